/**
 * node:util's `parseArgs` refuses `--name VALUE` when VALUE starts with a dash (ERR_PARSE_ARGS_INVALID_OPTION_VALUE,
 * "argument is ambiguous"): it cannot tell a value from the next option, so such a value must be written
 * `--name=VALUE`. Node flags always start with one, so `--node-flags "--max-semi-space-size=2"` failed as written.
 */
export const attachValues = (args: ReadonlyArray<string>, names: ReadonlyArray<string>): Array<string> => {
  const attached: Array<string> = []
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]
    const value = args[index + 1]
    if (value !== undefined && names.some((name) => arg === `--${name}`)) {
      attached.push(`${arg}=${value}`)
      index++
    } else {
      attached.push(arg)
    }
  }
  return attached
}
