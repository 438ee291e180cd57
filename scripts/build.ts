import { build } from "esbuild"
import { rm, writeFile } from "node:fs/promises"
import { digestPath, inputsDigest } from "./build-inputs.ts"
import { builtinsWithoutNamespace } from "./builtins-plugin.ts"

const root = process.cwd()
const digest = inputsDigest(root)
await rm("dist", { recursive: true, force: true })

const result = await build({
  entryPoints: { main: "src/main.ts" },
  outdir: "dist",
  bundle: true,
  // PGlite loads its WebAssembly from its own package folder; it is only imported when no database is configured
  // undici is CommonJS re-exported with `export *`, which esbuild cannot bundle into an ESM chunk
  external: ["@electric-sql/pglite", "undici"],
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node24",
  sourcemap: true,
  minifySyntax: true,
  metafile: true,
  legalComments: "none",
  plugins: [builtinsWithoutNamespace],
  banner: {
    js:
      "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})

await writeFile(digestPath(root), `${digest}\n`)

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => !file.endsWith(".map"))
for (const [file, output] of outputs) console.log(`${file}  ${(output.bytes / 1024).toFixed(0)} KiB`)
