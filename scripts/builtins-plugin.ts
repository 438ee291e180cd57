import type { Plugin } from "esbuild"
import { isBuiltin } from "node:module"

/**
 * Node builtins reach a bundle as CommonJS (`process.getBuiltinModule`), never as ES module imports: to build a
 * builtin's ES namespace Node reads every export, which runs the lazy getters (`fs.promises`, `http.WebSocket`, ...)
 * and loads modules the code never uses. esbuild's CommonJS interop reads an export only when the code does.
 */
export const builtinsWithoutNamespace: Plugin = {
  name: "builtins-without-namespace",
  setup(build) {
    build.onResolve(
      { filter: /^(node:)?[a-z_]+(\/[a-z_]+)?$/ },
      (args) =>
        args.kind === "import-statement" && isBuiltin(args.path)
          ? { path: args.path.replace(/^node:/, ""), namespace: "builtin" }
          : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)})`,
      loader: "js"
    }))
  }
}
