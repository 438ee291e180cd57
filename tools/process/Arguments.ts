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

/**
 * `NAME=VALUE` assignments (from a repeatable command-line option) as an environment to add; the value may hold `=`
 * and spaces (`RECORD_BATCH_INTERVAL=200 millis`). Refuses an entry without a name or `=`, naming it.
 */
export const envAssignments = (entries: ReadonlyArray<string>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of entries) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(entry)
    if (match === null) throw new Error(`not an environment assignment NAME=VALUE: ${JSON.stringify(entry)}`)
    env[match[1]] = match[2]
  }
  return env
}
