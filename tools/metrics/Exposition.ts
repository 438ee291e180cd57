/** One sample line of a Prometheus text exposition: `name{label="value",…} value`. */
export interface MetricSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/
const labelPair = /(\w+)="([^"]*)"/g

/** The samples of a `/metrics` answer, read in one pass; comments and lines that are not samples are left out. */
export const parseExposition = (text: string): ReadonlyArray<MetricSample> => {
  const samples: Array<MetricSample> = []
  for (const line of text.split("\n")) {
    const match = sampleLine.exec(line)
    if (match === null) continue
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? "").matchAll(labelPair)) labels[pair[1]] = pair[2]
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  return samples
}

/** The sum of `name`'s samples whose labels include `labels` (0 when there are none). */
export const sumOf = (
  samples: ReadonlyArray<MetricSample>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number => {
  let sum = 0
  for (const sample of samples) {
    if (sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) {
      sum += sample.value
    }
  }
  return sum
}

/** `sumOf` over a text read once; parse it with `parseExposition` instead when more than one value is wanted. */
export const metricValue = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number =>
  sumOf(parseExposition(text), name, labels)
