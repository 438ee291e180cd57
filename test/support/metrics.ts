/** The samples named `name` in a Prometheus text exposition, each with its labels and value. */
export const samples = (exposition: string, name: string) =>
  exposition.split("\n").flatMap((line) => {
    const match = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) return []
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value
    return [{ labels, value: Number(match[3]) }]
  })
