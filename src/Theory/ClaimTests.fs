/// Claims as Expecto tests: each claim is a test that passes when its check gets the expected verdict,
/// so the catalog, or the catalog plus claims of your own, runs under any Expecto runner.
module Dsl.Theory.ClaimTests

open Expecto

/// The expected verdict of a claim: refuted for the seeds' false statements (`Catalog.expectedRefuted`),
/// verified for every other claim.
let expectsRefutation (claim: Claim) : bool = Catalog.expectedRefuted.Contains claim.Id

/// One claim as an Expecto test named "<id> <name>" that runs its check (`Runner.run`: an exception
/// becomes a refutation naming it) and passes when the verdict is `Refuted` if `expectRefuted`, and
/// `Verified` otherwise. A failure prints the claim's table row and its counterexample or evidence.
let ofClaimExpecting (expectRefuted: bool) (claim: Claim) : Test =
    testCase (sprintf "%s %s" claim.Id claim.Name)
    <| fun () ->
        let row = Runner.run claim
        match row.Verdict with
        | Verified e when expectRefuted -> failtestf "%s %s was expected to be refuted but was verified:\n%s\nevidence: %A" claim.Id claim.Name (Runner.render [ row ]) e
        | Refuted c when not expectRefuted -> failtestf "%s %s: refuted: %O\n%s" claim.Id claim.Name c (Runner.render [ row ])
        | _ -> ()

/// One claim as an Expecto test expecting its catalog verdict (`expectsRefutation`): refuted for
/// `Catalog.expectedRefuted`, verified otherwise.
let ofClaim (claim: Claim) : Test = ofClaimExpecting (expectsRefutation claim) claim

/// Claims as an Expecto test list named `name`, one test per claim (`ofClaim`), run one after another
/// (the checks are tensor experiments that share the engine's threads).
let ofClaims (name: string) (claims: Claim list) : Test = testSequenced (testList name (List.map ofClaim claims))

/// The whole catalog (`Catalog.all`) as the test list "catalog"; a claim of your own joins it with
/// `testList "mine" [ catalog; ClaimTests.ofClaim myClaim ]`, or `ofClaims "mine" (Catalog.all @ [ myClaim ])`.
let catalog: Test = ofClaims "catalog" Catalog.all
