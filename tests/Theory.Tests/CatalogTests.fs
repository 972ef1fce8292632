/// The catalog: every claim is listed once, runs, and gets its expected verdict (the refuted statements
/// refuted, everything else verified); the runner prints the table.
module Dsl.Theory.Tests.CatalogTests

open NUnit.Framework
open Dsl.Theory

[<Test>]
let ``every claim has a unique id, a name, a source and a statement`` () =
    let ids = Catalog.all |> List.map (fun c -> c.Id)
    Assert.That(ids |> List.distinct |> List.length, Is.EqualTo ids.Length)
    for c in Catalog.all do
        Assert.That(c.Name <> "" && c.Source <> "" && c.Statement <> "", sprintf "claim %s is incomplete" c.Id)
    for prefix in [ "1"; "2"; "3"; "4"; "5"; "6"; "7"; "8"; "9"; "10"; "11" ] do
        Assert.That(ids |> List.exists (fun i -> i = prefix || (i.StartsWith prefix && System.Char.IsLetter i.[prefix.Length])), sprintf "no claim for item %s" prefix)

/// Every claim of the catalog with the sizes the example uses, except 5c (the seed's 10,000 products of
/// 512×512 matrices take about 15 s of CPU; its property test covers it at smaller N).
[<Test>]
let ``every catalog claim gets its expected verdict (the table of examples/theory.fsx)`` () =
    let claims = Catalog.all |> List.filter (fun c -> c.Id <> "5c")
    let rows = claims |> List.map Runner.run
    TestContext.Out.WriteLine(Runner.render rows)
    for r in rows do
        let expectRefuted = Catalog.expectedRefuted.Contains r.Claim.Id
        match r.Verdict with
        | Verified _ when expectRefuted -> Assert.Fail(sprintf "%s was expected to be refuted" r.Claim.Id)
        | Refuted c when not expectRefuted -> Assert.Fail(sprintf "%s %s: refuted: %O" r.Claim.Id r.Claim.Name c)
        | _ -> ()

[<Test>]
let ``the table has the columns claim | source | closed form | numeric | verdict`` () =
    let row = Runner.run (Catalog.find "8a")
    let text = Runner.render [ row ]
    Assert.That(text, Does.StartWith("claim"))
    Assert.That(text, Does.Contain("| source"))
    Assert.That(text, Does.Contain("| closed form"))
    Assert.That(text, Does.Contain("| numeric"))
    Assert.That(text, Does.Contain("| verdict"))
    Assert.That(text, Does.Contain("VERIFIED"))

[<Test>]
let ``the double-descent curve is saved as CSV and SVG`` () =
    let dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "theory-tests-" + string (System.Diagnostics.Process.GetCurrentProcess().Id))
    let csv, svg = DoubleDescent.save dir
    let lines = System.IO.File.ReadAllLines csv
    Assert.That(lines.[0], Is.EqualTo "p,test_error_mc,standard_error,closed_form,max_train_mse")
    Assert.That(lines.Length, Is.GreaterThan 40)
    Assert.That(System.IO.File.ReadAllText svg, Does.StartWith("<svg"))
    System.IO.Directory.Delete(dir, true)
