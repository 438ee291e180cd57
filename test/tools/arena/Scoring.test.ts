/**
 * Expected figures come from the published results of the Rinha de Backend 2025 final
 * (zanfranceschi/rinha-de-backend-2025, `participantes/<name>/final-results.json`, and RESULTADOS_FINAIS.md for the
 * two-decimal scores), and the rules from `handleSummary` in `rinha-test/rinha-final.js` of the same repository.
 * The published JSON carries unrounded amounts; only the ranking page rounds `total_liquido` to cents.
 */
import { assert, describe, it } from "@effect/vitest"
import BigJs from "big.js"
import type { ScoreInput } from "../../../tools/arena/Model.ts"
import { officialJson, round2, score } from "../../../tools/arena/Scoring.ts"

const amount = 20.05

interface Run {
  readonly participant?: string
  readonly timestamp?: string
  readonly defaultPayments: number
  readonly fallbackPayments: number
  readonly p99: number
  readonly successful?: number
  readonly failed?: number
  readonly inconsistencies?: number
  readonly maxVus?: number
}

/** A final-test run: every payment is 20.05, the processors charge 7% and 10%, as in rinha-final.js. */
const run = (r: Run): ScoreInput => ({
  profile: { name: "final", maxVus: r.maxVus ?? 603 },
  totals: {
    default: {
      totalRequests: r.defaultPayments,
      totalAmount: new BigJs(amount).times(r.defaultPayments).toNumber(),
      feePerTransaction: 0.07
    },
    fallback: {
      totalRequests: r.fallbackPayments,
      totalAmount: new BigJs(amount).times(r.fallbackPayments).toNumber(),
      feePerTransaction: 0.1
    }
  },
  p99: r.p99,
  inconsistencies: r.inconsistencies ?? 0,
  successfulPayments: r.successful ?? r.defaultPayments + r.fallbackPayments,
  failedPayments: r.failed ?? 0,
  participant: r.participant ?? "anonymous",
  timestamp: new Date(r.timestamp ?? "2025-08-21T00:00:00.000Z")
})

const winner = run({
  participant: "ricassiocosta-node",
  timestamp: "2025-08-21T05:22:06.046Z",
  defaultPayments: 52_945,
  fallbackPayments: 37_646,
  p99: 2.548
})

/** participantes/ricassiocosta-node/final-results.json as published (#1 of the final). */
const winnerFile = {
  timestamp: "2025-08-21T05:22:06.046Z",
  participante: "ricassiocosta-node",
  total_liquido: 1949876.384625,
  total_bruto: 1816349.55,
  total_taxas: 149788.5375,
  descricao:
    "'total_liquido' é sua pontuação final. Equivale ao seu lucro. Fórmula: total_liquido + (total_liquido * p99.bonus) - (total_liquido * multa.porcentagem)",
  p99: {
    valor: "2.55ms",
    bonus: "17%",
    max_requests: "603",
    descricao: "Fórmula para o bônus: max((11 - p99.valor) * 0.02, 0)"
  },
  multa: {
    porcentagem: 0,
    total: 0,
    composicao: {
      num_inconsistencias: 0,
      descricao: "Se 'num_inconsistencias' > 0, há multa de 35%."
    }
  },
  caixa_dois: {
    detectado: false,
    descricao:
      "Se 'lag' for negativo, significa que seu backend registrou mais pagamentos do que solicitado, automaticamente desclassificando sua submissão!"
  },
  lag: {
    num_pagamentos_total: 90591,
    num_pagamentos_solicitados: 90591,
    lag: 0,
    descricao:
      "Lag é a diferença entre a quantidade de solicitações de pagamentos e o que foi realmente computado pelo backend. Mostra a perda de pagamentos possivelmente por estarem enfileirados."
  },
  pagamentos_solicitados: {
    qtd_sucesso: 90591,
    qtd_falha: 0,
    descricao: "'qtd_sucesso' foram requests bem sucedidos para 'POST /payments' e 'qtd_falha' os requests com erro."
  },
  pagamentos_realizados_default: {
    total_bruto: 1061547.25,
    num_pagamentos: 52945,
    total_taxas: 74308.3075,
    descricao: "Informações do backend sobre solicitações de pagamento para o Payment Processor Default."
  },
  pagamentos_realizados_fallback: {
    total_bruto: 754802.3,
    num_pagamentos: 37646,
    total_taxas: 75480.23,
    descricao: "Informações do backend sobre solicitações de pagamento para o Payment Processor Fallback."
  }
}

const field = (json: Record<string, unknown>, key: string): Record<string, unknown> => {
  const value = json[key]
  assert.isTrue(typeof value === "object" && value !== null, key)
  return value as Record<string, unknown>
}

describe("Scoring", () => {
  describe("published results of the final", () => {
    it("#1 ricassiocosta-node: 1,949,876.38", () => {
      const card = score(winner)
      assert.strictEqual(card.gross, 1816349.55)
      assert.strictEqual(card.fees, 149788.5375)
      assert.strictEqual(card.net, 1666561.0125)
      assert.strictEqual(round2(card.net), 1666561.01)
      assert.strictEqual(card.p99, 2.55)
      assert.strictEqual(card.bonus, 0.17)
      assert.strictEqual(card.fine, 0)
      assert.strictEqual(card.fineAmount, 0)
      assert.strictEqual(card.score, 1949876.38)
      assert.strictEqual(card.lag, 0)
      assert.isFalse(card.slushFund)
      assert.deepStrictEqual(card.default, { payments: 52945, gross: 1061547.25, fees: 74308.3075 })
      assert.deepStrictEqual(card.fallback, { payments: 37646, gross: 754802.3, fees: 75480.23 })
    })

    it("#1 ricassiocosta-node: final-results.json byte for byte", () => {
      const json = officialJson(winner, score(winner))
      assert.strictEqual(JSON.stringify(json, null, 2), JSON.stringify(winnerFile, null, 2))
    })

    it("#2 RuanPabloCR-Rruim: 1,937,542.21", () => {
      const card = score(run({ defaultPayments: 11_787, fallbackPayments: 78_814, p99: 2.09 }))
      assert.strictEqual(card.gross, 1816550.05)
      assert.strictEqual(card.fees, 174565.1245)
      assert.strictEqual(card.net, 1641984.9255)
      assert.strictEqual(card.bonus, 0.18)
      assert.strictEqual(card.score, 1937542.21)
    })

    it("#3 lucas-laurentino-go: 1,935,735.85 with a lag of 80", () => {
      const input = run({
        participant: "lucas-laurentino-go",
        timestamp: "2025-08-21T04:58:37.261Z",
        defaultPayments: 11_312,
        fallbackPayments: 79_220,
        successful: 90_612,
        p99: 2.18
      })
      const card = score(input)
      assert.strictEqual(card.score, 1935735.85)
      assert.strictEqual(card.lag, 80)
      assert.isFalse(card.slushFund)
      const json = officialJson(input, card)
      assert.strictEqual(json.total_liquido, 1935735.84744)
      assert.strictEqual(json.total_bruto, 1815166.6)
      assert.strictEqual(json.total_taxas, 174712.492)
      assert.deepStrictEqual(field(json, "p99").bonus, "18%")
      assert.deepStrictEqual(field(json, "p99").valor, "2.18ms")
      const lag = field(json, "lag")
      assert.deepStrictEqual([lag.num_pagamentos_total, lag.num_pagamentos_solicitados, lag.lag], [90532, 90612, 80])
      const byDefault = field(json, "pagamentos_realizados_default")
      assert.deepStrictEqual([byDefault.total_bruto, byDefault.num_pagamentos, byDefault.total_taxas], [
        226805.6,
        11312,
        15876.392
      ])
      const byFallback = field(json, "pagamentos_realizados_fallback")
      assert.deepStrictEqual([byFallback.total_bruto, byFallback.num_pagamentos, byFallback.total_taxas], [
        1588361,
        79220,
        158836.1
      ])
    })
  })

  describe("p99 bonus", () => {
    const bonusAt = (p99: number) => score(run({ defaultPayments: 100, fallbackPayments: 0, p99 }))

    it("is 0 at 11 ms and above, never a penalty", () => {
      assert.strictEqual(bonusAt(11).bonus, 0)
      assert.strictEqual(bonusAt(11.004).bonus, 0)
      assert.strictEqual(bonusAt(12).bonus, 0)
      assert.strictEqual(bonusAt(250).bonus, 0)
      assert.strictEqual(bonusAt(250).score, bonusAt(250).net)
    })

    it("is 20% at 1 ms and 2% per ms in between", () => {
      assert.strictEqual(bonusAt(1).bonus, 0.2)
      assert.strictEqual(bonusAt(0.76).bonus, 0.2)
      assert.strictEqual(bonusAt(6).bonus, 0.1)
    })

    it("rounds p99 half-up to 2 decimals first, then the bonus half-up", () => {
      assert.strictEqual(bonusAt(2.555).p99, 2.56)
      assert.strictEqual(bonusAt(2.555).bonus, 0.17)
      assert.strictEqual(bonusAt(2.5549).p99, 2.55)
      // (11 − 10.75) × 0.02 = 0.005 → 0.01; (11 − 2.75) × 0.02 = 0.165 → 0.17 (#4 marcelo-dias-final: 17%).
      assert.strictEqual(bonusAt(10.75).bonus, 0.01)
      assert.strictEqual(bonusAt(2.75).bonus, 0.17)
      assert.strictEqual(bonusAt(3.46).bonus, 0.15)
    })

    it("prints as the script does", () => {
      const p99Of = (p99: number) => {
        const input = run({ defaultPayments: 1, fallbackPayments: 0, p99 })
        return field(officialJson(input, score(input)), "p99")
      }
      assert.deepStrictEqual(p99Of(1), {
        valor: "1ms",
        bonus: "20%",
        max_requests: "603",
        descricao: "Fórmula para o bônus: max((11 - p99.valor) * 0.02, 0)"
      })
      assert.strictEqual(p99Of(2.5).valor, "2.5ms")
      assert.strictEqual(p99Of(12).bonus, "0%")
      assert.strictEqual(p99Of(10.75).bonus, "1%")
    })
  })

  describe("fine", () => {
    it("one inconsistency costs 35% of the partial", () => {
      const card = score({ ...winner, inconsistencies: 1 })
      assert.strictEqual(card.fine, 0.35)
      assert.strictEqual(card.fineAmount, 583296.354375)
      // 1,666,561.0125 × (1 + 0.17 − 0.35) = 1,366,580.03025
      assert.strictEqual(card.score, 1366580.03)
      const json = officialJson({ ...winner, inconsistencies: 1 }, card)
      assert.strictEqual(json.total_liquido, 1366580.03025)
      assert.deepStrictEqual(field(json, "multa"), {
        porcentagem: 0.35,
        total: 583296.354375,
        composicao: { num_inconsistencias: 1, descricao: "Se 'num_inconsistencias' > 0, há multa de 35%." }
      })
    })

    it("is the same for many inconsistencies", () => {
      assert.strictEqual(score({ ...winner, inconsistencies: 13_776_526 }).score, 1366580.03)
    })
  })

  describe("lag", () => {
    it("a negative lag is a slush fund, flagged but not zeroed", () => {
      const input = { ...winner, successfulPayments: 90_590 }
      const card = score(input)
      assert.strictEqual(card.lag, -1)
      assert.isTrue(card.slushFund)
      assert.strictEqual(card.score, 1949876.38)
      const json = officialJson(input, card)
      assert.isTrue(field(json, "caixa_dois").detectado)
      assert.strictEqual(field(json, "lag").lag, -1)
    })

    it("counts processor requests, not amounts", () => {
      const input: ScoreInput = {
        ...winner,
        totals: {
          default: { totalRequests: 3, totalAmount: 100.1, feePerTransaction: 0.05 },
          fallback: { totalRequests: 2, totalAmount: 0.3, feePerTransaction: 0.15 }
        },
        successfulPayments: 7,
        failedPayments: 4
      }
      const card = score(input)
      assert.strictEqual(card.lag, 2)
      assert.strictEqual(card.default.payments, 3)
      assert.strictEqual(card.fallback.payments, 2)
      assert.strictEqual(card.default.fees, 5.005)
      assert.strictEqual(card.fees, 5.05)
      // big.js sums as decimals: 100.1 + 0.3 is 100.39999999999999 in floats
      assert.strictEqual(card.gross, 100.4)
      assert.strictEqual(card.net, 95.35)
      const json = officialJson(input, card)
      assert.deepStrictEqual(field(json, "pagamentos_solicitados").qtd_falha, 4)
    })
  })

  describe("official JSON", () => {
    it("has the final-results.json keys in order", () => {
      const json = officialJson(winner, score(winner))
      assert.deepStrictEqual(Object.keys(json), [
        "timestamp",
        "participante",
        "total_liquido",
        "total_bruto",
        "total_taxas",
        "descricao",
        "p99",
        "multa",
        "caixa_dois",
        "lag",
        "pagamentos_solicitados",
        "pagamentos_realizados_default",
        "pagamentos_realizados_fallback"
      ])
      assert.deepStrictEqual(Object.keys(field(json, "p99")), ["valor", "bonus", "max_requests", "descricao"])
      assert.deepStrictEqual(Object.keys(field(json, "multa")), ["porcentagem", "total", "composicao"])
      assert.deepStrictEqual(Object.keys(field(field(json, "multa"), "composicao")), [
        "num_inconsistencias",
        "descricao"
      ])
      assert.deepStrictEqual(Object.keys(field(json, "caixa_dois")), ["detectado", "descricao"])
      assert.deepStrictEqual(Object.keys(field(json, "lag")), [
        "num_pagamentos_total",
        "num_pagamentos_solicitados",
        "lag",
        "descricao"
      ])
      assert.deepStrictEqual(Object.keys(field(json, "pagamentos_solicitados")), [
        "qtd_sucesso",
        "qtd_falha",
        "descricao"
      ])
      for (const key of ["pagamentos_realizados_default", "pagamentos_realizados_fallback"]) {
        assert.deepStrictEqual(Object.keys(field(json, key)), [
          "total_bruto",
          "num_pagamentos",
          "total_taxas",
          "descricao"
        ])
      }
    })

    it("prints max_requests as a string of the profile's VUs", () => {
      const input = run({ defaultPayments: 1, fallbackPayments: 1, p99: 3, maxVus: 550 })
      assert.strictEqual(field(officialJson(input, score(input)), "p99").max_requests, "550")
    })
  })

  describe("round2", () => {
    it("rounds half-up from the shortest decimal form", () => {
      // 1.005 is 1.00499999999999989… as a double, so Math.round(n * 100) / 100 gives 1; big.js reads "1.005"
      assert.strictEqual(round2(2.555), 2.56)
      assert.strictEqual(round2(1.005), 1.01)
      assert.strictEqual(round2(1949876.384625), 1949876.38)
      assert.strictEqual(round2(1935735.84744), 1935735.85)
      assert.strictEqual(round2(2.544), 2.54)
      assert.strictEqual(round2(-2.555), -2.56)
    })
  })
})
