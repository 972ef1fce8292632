/// A claim from the course: a statement, where it comes from, and a check that returns a verdict.
namespace Dsl.Theory

open MathNet.Numerics.Distributions

/// How the numeric side of a claim was compared with the closed form.
type Comparison =
    /// A Monte Carlo estimate within k standard errors (or another stated sampling tolerance).
    | MonteCarlo
    /// A deterministic computation within a rounding tolerance (0 for exact integer arithmetic).
    | Exact
    /// An inequality: the estimate lies on the claimed side of the bound (Tolerance = the margin).
    | Bound

/// Evidence for a verified claim: what was compared, the closed form, the numeric estimate, its
/// standard error (0 when the numeric side is exact), the tolerance actually allowed, the sample
/// size and the number of cases tried.
type Evidence = {
    /// What the two numbers measure, e.g. "R̄(w_μ)" or "max |autograd − closed form|".
    Quantity: string
    /// How they were compared.
    Kind: Comparison
    ClosedForm: float
    Estimate: float
    /// Standard error of the estimate; 0 for exact or deterministic computations.
    StandardError: float
    /// The allowed |estimate − closed form|: k·SE for Monte Carlo, a rounding bound for exact checks
    /// (for inequalities: the margin by which the bound holds).
    Tolerance: float
    /// Monte Carlo draws (or evaluations) behind the estimate of the reported case.
    Samples: int
    /// Checks made: random cases (sizes/parameters) times sub-checks; the reported numbers are those of
    /// the worst check (or of the headline check).
    Cases: int
    /// Anything else worth printing (other sub-checks, margins, findings).
    Note: string
}

/// Why a statement is false: the (shrunk) input, what the statement says and what is true there.
type Counterexample = {
    Input: string
    Claimed: float
    Actual: float
    /// Greedy shrinking steps taken from the first failing input to this one (0 when found directly).
    ShrinkSteps: int
    Note: string
} with

    override this.ToString() =
        let shrunk = if this.ShrinkSteps > 0 then sprintf " (shrunk in %d steps)" this.ShrinkSteps else ""
        let note = if this.Note = "" then "" else "; " + this.Note
        sprintf "%s: claimed %g, actual %g%s%s" this.Input this.Claimed this.Actual shrunk note

/// The outcome of checking a claim.
type Verdict =
    /// The numeric experiment agrees with the closed form within its tolerance.
    | Verified of Evidence
    /// The statement is false; the counterexample is as small as the shrinker could make it.
    | Refuted of Counterexample

/// A claim: an id, its name, its source (seed and question), the statement, and the check.
type Claim = { Id: string; Name: string; Source: string; Statement: string; Check: unit -> Verdict }

/// Tolerances derived from standard errors.
module Tolerance =
    /// True when the estimate lies within `k` standard errors of the closed form.
    let withinStandardErrors (k: float) (closedForm: float) (estimate: float) (standardError: float) = abs (estimate - closedForm) <= k * standardError

    /// The number of standard errors allowed when `comparisons` Monte Carlo comparisons are made
    /// together: the two-sided normal quantile at family-wise level 1e-4 (Bonferroni), never below 4.
    /// One comparison gives 4; 100 give 4.9; 10,000 give 5.7.
    let familyWise (comparisons: int) : float =
        let m = float (max 1 comparisons)
        max 4.0 (Normal.InvCDF(0.0, 1.0, 1.0 - 1e-4 / (2.0 * m)))

    /// Like `familyWise` for an estimate whose standard error has `dof` degrees of freedom (a mean over
    /// few replicates): the Student-t quantile instead of the normal one, never below 4. With 9 degrees of
    /// freedom and 28 comparisons this is 10; with 39 and 28 it is 5.4.
    let student (comparisons: int) (dof: float) : float =
        let m = float (max 1 comparisons)
        if dof > 1e5 then familyWise comparisons else max 4.0 (StudentT.InvCDF(0.0, 1.0, max 1.0 dof, 1.0 - 1e-4 / (2.0 * m)))

    /// A rounding bound for a sum of `terms` products whose absolute values add up to `scale`:
    /// 8·terms·ε·scale (ε = 2⁻⁵² for float64), with a floor of 1e-300.
    let rounding (terms: int) (scale: float) : float = max 1e-300 (8.0 * float (max 1 terms) * 2.220446049250313e-16 * abs scale)

/// Building and combining verdicts.
module Verdict =
    /// True for Verified.
    let isVerified (v: Verdict) =
        match v with
        | Verified _ -> true
        | Refuted _ -> false

    /// The evidence of a verified verdict.
    let evidence (v: Verdict) =
        match v with
        | Verified e -> Some e
        | Refuted _ -> None

    /// How far the estimate is from the closed form in units of the tolerance (0 when the tolerance is 0 and they agree).
    let severity (e: Evidence) =
        if e.Kind = Bound then 0.0
        elif e.Tolerance > 0.0 then abs (e.Estimate - e.ClosedForm) / e.Tolerance
        elif e.Estimate = e.ClosedForm then 0.0
        else infinity

    /// Monte Carlo agreement: Verified when |estimate − closed form| ≤ k·SE.
    let monteCarlo (quantity: string) (k: float) (closedForm: float) (estimate: float) (se: float) (n: int) : Verdict =
        let tol = k * se
        if abs (estimate - closedForm) <= tol && not (System.Double.IsNaN estimate) then
            Verified {
                Quantity = quantity
                Kind = MonteCarlo
                ClosedForm = closedForm
                Estimate = estimate
                StandardError = se
                Tolerance = tol
                Samples = n
                Cases = 1
                Note = sprintf "k = %.2f" k
            }
        else
            Refuted {
                Input = quantity
                Claimed = closedForm
                Actual = estimate
                ShrinkSteps = 0
                Note = sprintf "|Δ| = %.4g > %.2f·SE = %.4g (n = %d)" (abs (estimate - closedForm)) k tol n
            }

    /// Monte Carlo agreement on the log scale: |log estimate − log closed form| ≤ k·SE(log estimate), for
    /// positive quantities estimated multiplicatively (the reported SE is estimate·SE(log)).
    let monteCarloLog (quantity: string) (k: float) (closedForm: float) (estimate: float) (seLog: float) (n: int) : Verdict =
        if closedForm > 0.0 && estimate > 0.0 && abs (log estimate - log closedForm) <= k * seLog then
            Verified {
                Quantity = quantity
                Kind = MonteCarlo
                ClosedForm = closedForm
                Estimate = estimate
                StandardError = estimate * seLog
                Tolerance = closedForm * (exp (k * seLog) - 1.0)
                Samples = n
                Cases = 1
                Note = sprintf "k = %.2f on the log scale" k
            }
        else
            Refuted {
                Input = quantity
                Claimed = closedForm
                Actual = estimate
                ShrinkSteps = 0
                Note = sprintf "|Δ log| = %.4g > %.2f·SE(log) = %.4g (n = %d)" (abs (log estimate - log closedForm)) k (k * seLog) n
            }

    /// Exact (deterministic) agreement within a rounding tolerance.
    let exact (quantity: string) (closedForm: float) (actual: float) (tolerance: float) (n: int) : Verdict =
        if abs (actual - closedForm) <= tolerance then
            Verified {
                Quantity = quantity
                Kind = Exact
                ClosedForm = closedForm
                Estimate = actual
                StandardError = 0.0
                Tolerance = tolerance
                Samples = n
                Cases = 1
                Note = ""
            }
        else
            Refuted { Input = quantity; Claimed = closedForm; Actual = actual; ShrinkSteps = 0; Note = sprintf "|Δ| = %.4g > tolerance %.3g" (abs (actual - closedForm)) tolerance }

    /// An inequality `actual ≥ bound` (strict when `strict`); the tolerance reported is the margin.
    let atLeast (quantity: string) (strict: bool) (bound: float) (actual: float) (n: int) : Verdict =
        if (if strict then actual > bound else actual >= bound) then
            Verified {
                Quantity = quantity
                Kind = Bound
                ClosedForm = bound
                Estimate = actual
                StandardError = 0.0
                Tolerance = actual - bound
                Samples = n
                Cases = 1
                Note = ""
            }
        else
            Refuted { Input = quantity; Claimed = bound; Actual = actual; ShrinkSteps = 0; Note = sprintf "the bound %s fails" (if strict then ">" else "≥") }

    /// A failed condition as a refutation.
    let fail (input: string) (claimed: float) (actual: float) (note: string) : Verdict = Refuted { Input = input; Claimed = claimed; Actual = actual; ShrinkSteps = 0; Note = note }

    /// Adds text to the note of a verified verdict.
    let note (text: string) (v: Verdict) : Verdict =
        match v with
        | Verified e -> Verified { e with Note = (if e.Note = "" then text else e.Note + "; " + text) }
        | r -> r

    /// Prefixes the counterexample input of a refutation with a description of the case.
    let inCase (describe: string) (v: Verdict) : Verdict =
        match v with
        | Refuted c -> Refuted { c with Input = describe + " — " + c.Input }
        | v -> v

    /// All of several verdicts: the first refutation, else the verified evidence with the largest
    /// severity, with Cases = the total number of cases.
    let all (vs: Verdict list) : Verdict =
        match vs |> List.tryFind (isVerified >> not) with
        | Some r -> r
        | None ->
            let es = vs |> List.choose evidence
            if es.IsEmpty then invalidArg "vs" "Verdict.all: no verdicts"
            let worst = es |> List.maxBy severity
            Verified { worst with Cases = es |> List.sumBy (fun e -> e.Cases) }

    /// Like `all`, but the reported evidence is the first verdict's (the headline), with the others'
    /// cases added and their notes appended.
    let headline (vs: Verdict list) : Verdict =
        match vs |> List.tryFind (isVerified >> not) with
        | Some r -> r
        | None ->
            let es = vs |> List.choose evidence
            let h = List.head es
            let notes = es |> List.tail |> List.map (fun e -> sprintf "%s: %.4g vs %.4g" e.Quantity e.Estimate e.ClosedForm)
            Verified { h with Cases = es |> List.sumBy (fun e -> e.Cases); Note = String.concat "; " ((if h.Note = "" then [] else [ h.Note ]) @ notes) }

/// Running a check over random cases.
module Sweep =
    /// Checks `cases` random cases drawn from `random` (seeded by `seed`), each with the family-wise
    /// tolerance for `cases` comparisons, and combines them with `Verdict.all`. A refutation names its case.
    let run (cases: int) (seed: int) (random: System.Random -> 'c) (describe: 'c -> string) (check: int -> 'c -> Verdict) : Verdict =
        let r = System.Random(seed)
        [
            for _ in 1..cases ->
                let c = random r
                check cases c |> Verdict.inCase (describe c)
        ]
        |> Verdict.all
