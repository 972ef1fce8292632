namespace Dsl.Theory.Tests

open NUnit.Framework
open Dsl.Engine
open Dsl.Theory

/// One intra-op thread for the whole test assembly: the experiments are many small tensor ops, and on a
/// busy 2-core machine OpenMP's spinning worker made them several times slower.
[<SetUpFixture>]
type Setup() =
    [<OneTimeSetUp>]
    member _.Threads() = Torch.NumThreads <- 1

/// Assertions on verdicts that print the evidence or counterexample when they fail.
module Helpers =
    /// True when verified; otherwise fails with the counterexample (FsCheck shows it for the smallest case).
    let verified (v: Verdict) : bool =
        match v with
        | Verified _ -> true
        | Refuted c -> failwithf "refuted: %O" c

    /// True when refuted; otherwise fails with the evidence.
    let refuted (v: Verdict) : bool =
        match v with
        | Refuted _ -> true
        | Verified e -> failwithf "expected a refutation but it was verified: %A" e

    /// The counterexample of a refutation.
    let counterexample (v: Verdict) =
        match v with
        | Refuted c -> c
        | Verified e -> failwithf "expected a refutation but it was verified: %A" e

    /// The evidence of a verified verdict.
    let evidence (v: Verdict) =
        match v with
        | Verified e -> e
        | Refuted c -> failwithf "refuted: %O" c

    /// Asserts that two float arrays are equal element by element.
    let expectArray (expected: float[]) (actual: float[]) =
        Assert.That((actual = expected), sprintf "expected %A but got %A" expected actual)

