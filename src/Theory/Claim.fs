/// A claim from the course: a statement, where it comes from, and a check that returns a verdict.
namespace Dsl.Theory

/// Evidence for a verified claim: the closed form, the numeric estimate, its standard error, the sample size and the cases tried.
type Evidence =
    { ClosedForm: float
      Estimate: float
      StandardError: float
      Samples: int
      Cases: int }

/// The outcome of checking a claim.
type Verdict =
    /// The numeric experiment agrees with the closed form within its tolerance.
    | Verified of Evidence
    /// The statement is false; the string describes a (shrunk) counterexample.
    | Refuted of counterexample: string

/// A claim: its name, its source (seed and question), the statement, and the check.
type Claim =
    { Name: string
      Source: string
      Statement: string
      Check: unit -> Verdict }

/// Monte Carlo agreement: |estimate − closed form| ≤ k·SE, the tolerance derived from the estimate's own standard error.
module Tolerance =
    /// True when the estimate lies within `k` standard errors of the closed form.
    let withinStandardErrors (k: float) (closedForm: float) (estimate: float) (standardError: float) =
        abs (estimate - closedForm) <= k * standardError
