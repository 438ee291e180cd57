/**
 * The arena's scorer: the arithmetic of `handleSummary` (and the fee step of `teardown`) in the official final script,
 * `rinha-test/rinha-final.js` of zanfranceschi/rinha-de-backend-2025. It uses big.js 7.0.1 exactly where the script
 * does and plain float arithmetic exactly where the script does (the bonus product), so every figure matches the
 * published `final-results.json` files to the last digit.
 *
 * The official JSON does not round money: the winner's file says `"total_liquido": 1949876.384625` and
 * `"total_taxas": 149788.5375`. Only the results page shows two decimals (1,949,876.38). `Scorecard.score` is that
 * page's figure (half-up to cents); every other amount in the scorecard, and every amount in `officialJson`, is
 * the script's unrounded value.
 */
import BigJs from "big.js"
import type { ProcessorScore, Scorecard, ScoreInput } from "./Model.ts"

/** A private constructor with big.js's defaults (the script's), whatever anyone sets on the shared one. */
const Decimal = BigJs()
Decimal.DP = 20
Decimal.RM = Decimal.roundHalfUp
Decimal.NE = -7
Decimal.PE = 21
Decimal.strict = false

const fineRate = 0.35

/** Half-up to 2 decimals of the number's shortest decimal form, as `new Big(n).round(2)`: 2.555 → 2.56, 1.005 → 1.01. */
export const round2 = (n: number): number => new Decimal(n).round(2, Decimal.roundHalfUp).toNumber()

/** `max(Big((11 − p99) × 0.02).round(2), 0)`: the product is a float, as in the script. */
const bonusFor = (p99: number): number => Math.max(new Decimal((11 - p99) * 0.02).round(2).toNumber(), 0)

/** total_liquido: partial + partial × bonus − partial × fine, unrounded. */
const liquidAmount = (partial: number, bonus: number, fine: number): number =>
  new Decimal(partial)
    .plus(new Decimal(partial).times(bonus))
    .minus(new Decimal(partial).times(fine))
    .toNumber()

const processorScore = (totals: ScoreInput["totals"]["default"]): ProcessorScore => ({
  payments: totals.totalRequests,
  gross: totals.totalAmount,
  fees: new Decimal(totals.feePerTransaction).times(totals.totalAmount).toNumber()
})

/** Scores a run. `input.p99` must be finite (big.js rejects NaN and infinities). */
export const score = (input: ScoreInput): Scorecard => {
  const byDefault = processorScore(input.totals.default)
  const byFallback = processorScore(input.totals.fallback)
  const gross = new Decimal(byDefault.gross).plus(byFallback.gross).toNumber()
  const fees = new Decimal(byDefault.fees).plus(byFallback.fees).toNumber()
  const net = new Decimal(gross).minus(fees).toNumber()
  const p99 = round2(input.p99)
  const bonus = bonusFor(p99)
  const fine = input.inconsistencies > 0 ? fineRate : 0
  const lag = input.successfulPayments - (byDefault.payments + byFallback.payments)
  return {
    score: round2(liquidAmount(net, bonus, fine)),
    gross,
    fees,
    net,
    p99,
    bonus,
    fine,
    fineAmount: new Decimal(net).times(fine).toNumber(),
    inconsistencies: input.inconsistencies,
    lag,
    slushFund: lag < 0,
    successfulPayments: input.successfulPayments,
    failedPayments: input.failedPayments,
    default: byDefault,
    fallback: byFallback
  }
}

const processorJson = (processor: ProcessorScore, name: string) => ({
  total_bruto: processor.gross,
  num_pagamentos: processor.payments,
  total_taxas: processor.fees,
  descricao: `Informações do backend sobre solicitações de pagamento para o Payment Processor ${name}.`
})

/**
 * The fields of `final-results.json`, in the official order and with the official texts: `JSON.stringify(json, null,
 * 2)` reproduces a published file byte for byte. `max_requests` is a string, as the script prints `__ENV.MAX_REQUESTS`.
 */
export const officialJson = (input: ScoreInput, card: Scorecard): Record<string, unknown> => ({
  timestamp: input.timestamp.toISOString(),
  participante: input.participant,
  total_liquido: liquidAmount(card.net, card.bonus, card.fine),
  total_bruto: card.gross,
  total_taxas: card.fees,
  descricao:
    "'total_liquido' é sua pontuação final. Equivale ao seu lucro. Fórmula: total_liquido + (total_liquido * p99.bonus) - (total_liquido * multa.porcentagem)",
  p99: {
    valor: `${card.p99}ms`,
    bonus: `${new Decimal(card.bonus).times(100).toString()}%`,
    max_requests: String(input.profile.maxVus),
    descricao: "Fórmula para o bônus: max((11 - p99.valor) * 0.02, 0)"
  },
  multa: {
    porcentagem: card.fine,
    total: card.fineAmount,
    composicao: {
      num_inconsistencias: card.inconsistencies,
      descricao: "Se 'num_inconsistencias' > 0, há multa de 35%."
    }
  },
  caixa_dois: {
    detectado: card.slushFund,
    descricao:
      "Se 'lag' for negativo, significa que seu backend registrou mais pagamentos do que solicitado, automaticamente desclassificando sua submissão!"
  },
  lag: {
    num_pagamentos_total: card.default.payments + card.fallback.payments,
    num_pagamentos_solicitados: card.successfulPayments,
    lag: card.lag,
    descricao:
      "Lag é a diferença entre a quantidade de solicitações de pagamentos e o que foi realmente computado pelo backend. Mostra a perda de pagamentos possivelmente por estarem enfileirados."
  },
  pagamentos_solicitados: {
    qtd_sucesso: card.successfulPayments,
    qtd_falha: card.failedPayments,
    descricao: "'qtd_sucesso' foram requests bem sucedidos para 'POST /payments' e 'qtd_falha' os requests com erro."
  },
  pagamentos_realizados_default: processorJson(card.default, "Default"),
  pagamentos_realizados_fallback: processorJson(card.fallback, "Fallback")
})
