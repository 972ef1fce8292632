/// The catalog: every claim is listed once, runs, and gets its expected verdict (the refuted statements
/// refuted, everything else verified), one test per claim.
module Dsl.Theory.Tests.CatalogTests

open Expecto
open Dsl.Theory

/// This module's tests, the Expecto list "Catalog" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Catalog" [
        testCase "every claim has a unique id, a name, a source and a statement"
        <| fun () ->
            let ids = Catalog.all |> List.map (fun c -> c.Id)
            Expect.equal (ids |> List.distinct |> List.length) ids.Length "ids |> List.distinct |> List.length"
            for c in Catalog.all do
                Expect.isTrue (c.Name <> "" && c.Source <> "" && c.Statement <> "") (sprintf "claim %s is incomplete" c.Id)
            for prefix in [ "1"; "2"; "3"; "4"; "5"; "6"; "7"; "8"; "9"; "10"; "11" ] do
                Expect.isTrue (ids |> List.exists (fun i -> i = prefix || (i.StartsWith prefix && System.Char.IsLetter i.[prefix.Length]))) (sprintf "no claim for item %s" prefix)

        // Every claim of the catalog with the sizes the example uses, except 5c (the seed's 10,000 products of
        // 512×512 matrices take about 15 s of CPU; its property test covers it at smaller N): one test per claim
        // (ClaimTests.ofClaims), passing when the claim gets its expected verdict.
        ClaimTests.ofClaims "every catalog claim gets its expected verdict (the table of examples/theory.fsx)" (Catalog.all |> List.filter (fun c -> c.Id <> "5c"))

        testCase "a claim test fails when the claim gets the other verdict, printing why"
        <| fun () ->
            let claim verdict = { Id = "t1"; Name = "a test claim"; Source = "tests"; Statement = "-"; Check = fun () -> verdict }
            let verified = Verified { Quantity = "q"; Kind = Exact; ClosedForm = 1.0; Estimate = 1.0; StandardError = 0.0; Tolerance = 0.0; Samples = 1; Cases = 1; Note = "" }
            let refuted = Refuted { Input = "x = 0"; Claimed = 1.0; Actual = 0.0; ShrinkSteps = 0; Note = "" }
            let outcome (test: Test) =
                match test with
                | TestLabel(name, TestCase(Sync run, _), _) ->
                    Expect.equal name "t1 a test claim" "the test is named by the claim's id and name"
                    try
                        run ()
                        None
                    with :? AssertException as e ->
                        Some e.Message
                | other -> failtestf "expected one synchronous test case, got %A" other
            Expect.isNone (outcome (ClaimTests.ofClaimExpecting false (claim verified))) "verified as expected"
            Expect.isNone (outcome (ClaimTests.ofClaimExpecting true (claim refuted))) "refuted as expected"
            match outcome (ClaimTests.ofClaimExpecting false (claim refuted)) with
            | Some m -> Expect.stringContains m "refuted: x = 0: claimed 1, actual 0" "an unexpected refutation prints the counterexample"
            | None -> failtest "an unexpected refutation passed"
            match outcome (ClaimTests.ofClaimExpecting true (claim verified)) with
            | Some m -> Expect.stringContains m "t1 a test claim was expected to be refuted" "an unexpected verification says so"
            | None -> failtest "an unexpected verification passed"
            Expect.isTrue (ClaimTests.expectsRefutation (Catalog.find "10c")) "10c is one of the seeds' false statements"
            Expect.isFalse (ClaimTests.expectsRefutation (Catalog.find "8a")) "8a is expected to be verified"

        testCase "the table has the columns claim | source | closed form | numeric | verdict"
        <| fun () ->
            let row = Runner.run (Catalog.find "8a")
            let text = Runner.render [ row ]
            Expect.stringStarts text "claim" "text"
            Expect.stringContains text "| source" "text"
            Expect.stringContains text "| closed form" "text"
            Expect.stringContains text "| numeric" "text"
            Expect.stringContains text "| verdict" "text"
            Expect.stringContains text "VERIFIED" "text"

        testCase "the double-descent curve is saved as CSV and SVG"
        <| fun () ->
            let dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "theory-tests-" + string (System.Diagnostics.Process.GetCurrentProcess().Id))
            let csv, svg = DoubleDescent.save dir
            let lines = System.IO.File.ReadAllLines csv
            Expect.equal lines.[0] "p,test_error_mc,standard_error,closed_form,max_train_mse" "lines.[0]"
            Expect.isGreaterThan lines.Length 40 "lines.Length"
            let doc = System.Xml.Linq.XDocument.Load svg
            Expect.equal (doc.Root |> Option.ofObj |> Option.map _.Name.LocalName) (Some "svg") "the SVG's root element"
            Expect.stringContains (System.IO.File.ReadAllText svg) "interpolation threshold" "the SVG names the threshold"
            System.IO.Directory.Delete(dir, true)
    ]
