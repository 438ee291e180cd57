const EMPTY = 0
const WORDS = 4
const MAX_LOAD = 0.7
const INITIAL_SLOTS = 1024

const nibble = (code: number): number => {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/**
 * A set of correlationIds that keeps each UUID written in lowercase as its 16 bytes, in one open-addressed table
 * outside the V8 heap: a Set of strings costs ~86 bytes of heap per id (the string and its entry), which an
 * instance keeps for every payment it accepts. Ids in any other spelling are kept as strings, so two spellings of
 * one UUID stay two ids, as they are in a Set.
 */
export class CorrelationIdSet {
  private table = new Int32Array(WORDS * INITIAL_SLOTS)
  private count = 0
  private readonly others = new Set<string>()
  private readonly key = new Int32Array(WORDS)

  get size(): number {
    return this.count + this.others.size
  }

  has(id: string): boolean {
    return this.parse(id) ? this.find(this.table) < 0 : this.others.has(id)
  }

  add(id: string): void {
    if (!this.parse(id)) {
      this.others.add(id)
      return
    }
    const slot = this.find(this.table)
    if (slot < 0) return
    this.table.set(this.key, slot * WORDS)
    this.count++
    if (this.count > (this.table.length / WORDS) * MAX_LOAD) this.grow()
  }

  clear(): void {
    this.table = new Int32Array(WORDS * INITIAL_SLOTS)
    this.count = 0
    this.others.clear()
  }

  /** Reads a lowercase UUID other than the nil one into `key`; false for anything else. */
  private parse(id: string): boolean {
    if (id.length !== 36) return false
    const key = this.key
    let word = 0
    let digits = 0
    let any = 0
    for (let i = 0; i < 36; i++) {
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (id.charCodeAt(i) !== 45) return false
        continue
      }
      const value = nibble(id.charCodeAt(i))
      if (value < 0) return false
      word = (word << 4) | value
      if (++digits % 8 === 0) {
        key[digits / 8 - 1] = word
        any |= word
        word = 0
      }
    }
    return any !== EMPTY
  }

  /** The slot holding `key` as a negative number (-1 - slot), or the empty slot where it would go. */
  private find(table: Int32Array): number {
    const key = this.key
    const mask = table.length / WORDS - 1
    let slot = (Math.imul(key[0] ^ key[1], 0x9e3779b1) ^ Math.imul(key[2] ^ key[3], 0x85ebca77)) >>> 0
    slot = (slot ^ (slot >>> 15)) & mask
    for (;;) {
      const at = slot * WORDS
      if ((table[at] | table[at + 1] | table[at + 2] | table[at + 3]) === EMPTY) return slot
      if (table[at] === key[0] && table[at + 1] === key[1] && table[at + 2] === key[2] && table[at + 3] === key[3]) {
        return -1 - slot
      }
      slot = (slot + 1) & mask
    }
  }

  private grow(): void {
    const old = this.table
    const table = new Int32Array(old.length * 2)
    for (let at = 0; at < old.length; at += WORDS) {
      if ((old[at] | old[at + 1] | old[at + 2] | old[at + 3]) === EMPTY) continue
      this.key.set(old.subarray(at, at + WORDS))
      table.set(this.key, this.find(table) * WORDS)
    }
    this.table = table
  }
}
