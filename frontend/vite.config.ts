/// <reference types="vitest/config" />
// Vigil dashboard build. The gateway serves dist/ at / with a strict CSP
// (no inline scripts, no eval), so the build emits only external, hashed
// scripts and styles under /assets/.
//
// Development: `npm run dev` serves on http://localhost:5173 and proxies
// /v1, /metrics, /healthz and /readyz to the gateway in VIGIL_GATEWAY
// (default http://127.0.0.1:8080), so no CORS setup is needed.
import { defineConfig } from "vite";

const gateway = process.env.VIGIL_GATEWAY ?? "http://127.0.0.1:8080";
const proxy = Object.fromEntries(
  ["/v1", "/metrics", "/healthz", "/readyz"].map((p) => [p, { target: gateway, changeOrigin: true }]),
);

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    assetsInlineLimit: 0, // everything as files (CSP: no data: scripts)
    chunkSizeWarningLimit: 200,
  },
  server: { port: 5173, strictPort: true, proxy },
  preview: { port: 4173, proxy },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
