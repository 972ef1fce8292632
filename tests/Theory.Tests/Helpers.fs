namespace Dsl.Theory.Tests

open Expecto
open Dsl.Engine
open Dsl.Theory

/// Assertions on verdicts that print the evidence or counterexample when they fail, and the set-up and
/// configuration shared by the tests.
module Helpers =
    /// The one-time set-up of the test program, run before any test: one intra-op thread for the whole
    /// run, since the experiments are many small tensor ops, and on a busy 2-core machine OpenMP's
    /// spinning worker made them several times slower.
    let setUp () = Torch.NumThreads <- 1

    /// The FsCheck configuration of a property test that checks `n` generated cases (NUnit's
    /// `[<Property(MaxTest = n)>]`); everything else, shrinking included, is FsCheck's default.
    let maxTest (n: int) : FsCheckConfig = { FsCheckConfig.defaultConfig with maxTest = n }

    /// The accuracy for `Expect.floatClose` that accepts |actual − expected| ≤ tol (NUnit's `Is.EqualTo(x).Within(tol)`).
    let within (tol: float) : Accuracy<float, float> = { absolute = tol; relative = 0.0 }

    /// True when verified; otherwise fails with the counterexample (FsCheck shows it for the smallest case).
    let verified (v: Verdict) : bool =
        match v with
        | Verified _ -> true
        | Refuted c -> failtestf "refuted: %O" c

    /// True when refuted; otherwise fails with the evidence.
    let refuted (v: Verdict) : bool =
        match v with
        | Refuted _ -> true
        | Verified e -> failtestf "expected a refutation but it was verified: %A" e

    /// The counterexample of a refutation.
    let counterexample (v: Verdict) =
        match v with
        | Refuted c -> c
        | Verified e -> failtestf "expected a refutation but it was verified: %A" e

    /// The evidence of a verified verdict.
    let evidence (v: Verdict) =
        match v with
        | Verified e -> e
        | Refuted c -> failtestf "refuted: %O" c

    /// Asserts that two float arrays are equal element by element.
    let expectArray (expected: float[]) (actual: float[]) = Expect.isTrue (actual = expected) (sprintf "expected %A but got %A" expected actual)
