/// Every example script runs (in its quick mode where it has one) and prints what it promises.
module Dsl.Examples.Tests.ExampleScripts

open System
open System.Diagnostics
open System.IO
open NUnit.Framework

let private root =
    let rec up (d: DirectoryInfo) = if File.Exists(Path.Combine(d.FullName, "Dsl.sln")) then d.FullName else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

let private run (exe: string) (args: string) (timeoutMs: int) =
    let psi = ProcessStartInfo(exe, args, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.Environment.["CI"] <- "true"
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit timeoutMs) then
        p.Kill true
        Assert.Fail(sprintf "%s %s did not finish in %d s" exe args (timeoutMs / 1000))
    p.ExitCode, out.Result + err.Result

/// The scripts reference the Release build (Dsl.fsx); build it once.
[<OneTimeSetUp>]
let buildRelease () =
    for project in [ "src/Dsl/Dsl.fsproj"; "src/Theory/Theory.fsproj" ] do
        let code, output = run "dotnet" (sprintf "build %s -c Release -nologo -v q" project) 600_000
        Assert.That(code, Is.EqualTo 0, output)

let private runScript (name: string) (args: string) = run "dotnet" (sprintf "fsi --quiet examples/%s %s" name args) 900_000

let private succeeds (code: int, output: string) (expect: string list) =
    Assert.That(code, Is.EqualTo 0, output)
    for e in expect do Assert.That(output, Does.Contain e, output)
    output

let private script (name: string) (args: string) (expect: string list) = succeeds (runScript name args) expect

[<Test>]
let ``quickstart builds, summarises and runs an MLP and a CNN`` () =
    script "quickstart.fsx" "" [ "Total params: 101,770"; "MLP: 101770 parameters, logits shape [4; 10]"; "CNN:" ] |> ignore

[<Test>]
let ``fashion_mnist --quick trains the three models and prints the table`` () =
    let out = script "fashion_mnist.fsx" "--quick" [ "seed 001 MLP"; "seed 001 CNN"; "better CNN"; "test acc" ]
    Assert.That(out, Does.Match @"Epoch 1/1 - [0-9.]+s - loss: [0-9.]+ - accuracy: [0-9.]+")

[<Test>]
let ``magic --quick prints a baseline, the tuned MLP and three initialisations`` () =
    // The script finds the data itself (Magic.Locate: DSL_MAGIC_DATA, or shared/ beside the repository).
    let code, output = runScript "magic.fsx" "--quick"
    if code = 3 && output.Contains "MAGIC data not found" then Assert.Ignore output
    succeeds (code, output) [ "logistic regression"; "best on validation"; "torch_default"; "glorot_uniform"; "he_normal" ] |> ignore

[<Test>]
let ``theory prints verified and refuted claims`` () =
    script "theory.fsx" "8a 10c" [ "VERIFIED"; "REFUTED" ] |> ignore
