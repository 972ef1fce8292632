// The course's theory, checked: every claim of the theory issue (seed 000 Q1–Q6 and Task 1, seed 002
// Q2–Q3 and the softmax/NLL statements, seed 004 Task 2) as closed form + numeric experiment + verdict.
// Prints the table  claim | source | closed form | numeric | verdict,  then each claim's sub-checks,
// the Task 1 std table and the VGG-11 table, and saves the double-descent curve and the Task 1 std-by-layer
// chart to examples/output/theory/.
//   dotnet fsi build.fsx run examples/theory.fsx            # every claim (about a minute of CPU)
//   dotnet fsi build.fsx run examples/theory.fsx 1 5a 10c   # only these claim ids
#load "../Dsl.fsx"
#r "../src/Theory/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../src/Theory/bin/Release/net10.0/Dsl.Theory.dll"
open System.IO
open Dsl.Engine
open Dsl.Theory

// The experiments are many small tensor ops: one intra-op thread avoids OpenMP's spinning worker, which
// made them several times slower on a busy 2-core machine.
Torch.NumThreads <- 1

let ids = fsi.CommandLineArgs |> Array.skip 1 |> Set.ofArray
let claims = Catalog.all |> List.filter (fun c -> ids.IsEmpty || ids.Contains c.Id)

printfn "Checking %d claims (progress on stderr)...\n" claims.Length
let rows = Runner.runAll claims

let refuted = rows |> List.filter (fun r -> not (Verdict.isVerified r.Verdict)) |> List.map (fun r -> r.Claim.Id)
let unexpected = refuted |> List.filter (fun id -> not (Catalog.expectedRefuted.Contains id))
printfn
    "\n%d verified, %d refuted (%s)%s"
    (rows.Length - refuted.Length)
    refuted.Length
    (String.concat ", " refuted)
    (if unexpected.IsEmpty then "; every refutation is one of the seeds' false statements" else sprintf "; UNEXPECTED: %s" (String.concat ", " unexpected))

printfn "\nSub-checks and findings:\n%s" (Runner.notes rows)

let out = Path.Combine(__SOURCE_DIRECTORY__, "output", "theory")

if claims |> List.exists (fun c -> c.Id.StartsWith "5") then
    printfn "\n%s" (Task1.render Task1.standardSpec (Task1.standard.Force()))
    printfn "Task 1 std by layer saved: %s" (Task1.save out Task1.standardSpec (Task1.standard.Force()))

if claims |> List.exists (fun c -> c.Id = "7") then
    printfn "VGG-11 from the DSL's summary (conv 3×3 with Pad 1, maxPool 2, flatten, dense 4096, 4096, 1000, softmax):"
    printfn "%s" (Vgg.render (Vgg.standard.Force()))

if claims |> List.exists (fun c -> c.Id = "3") then
    let csv, svg = DoubleDescent.save out
    printfn "Double-descent curve saved: %s, %s" csv svg
