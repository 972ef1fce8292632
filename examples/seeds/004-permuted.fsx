// Seed 004 Task 2 (Table 5): one fixed permutation of the 784 pixels, for training and test images alike; the seed's
// MLP and CNN (Keras's examples) trained on the original and on the permuted images, 3 seeds each, test accuracy as
// mean ± spread (sample standard deviation). The MLP cannot tell the difference: Theory claim 11a (a permuted first
// layer computes on Px what the original computes on x) and 11b (gradient descent from the permuted initialisation on
// Px follows the permuted trajectory) say its training is the same up to the permutation, checked here on the real
// model at the same seed; claim 11c says a CNN cannot absorb a permutation, so it loses accuracy.
//   dotnet fsi build.fsx run examples/seeds/004-permuted.fsx [--epochs N] [--train N]   (Fashion-MNIST, installed)
//   dotnet fsi build.fsx run examples/seeds/004-permuted.fsx --data DIR               (and MNIST, from its IDX folder)
//   dotnet fsi build.fsx run examples/seeds/004-permuted.fsx --quick                  (a subset, one epoch, 2 seeds)
#load "Seed004.fsx"
#r "../../src/Theory/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../src/Theory/bin/Release/net10.0/Dsl.Theory.dll"

open System
open Dsl
open Dsl.Engine
open Dsl.Theory
open Seeds
open Seed004

let epochsFor name = if quick then 1 else epochs (if name = "MLP" then 10 else 6)
let nTrain = if quick then Some 600 else option "--train" |> Option.map int
let nTest = if quick then Some 300 else None
let seeds = if quick then [ 1L; 2L ] else [ 1L; 2L; 3L ]

/// The fixed permutation: (Px)[i] = x[π(i)], the same for every image of both splits.
let perm = Draw.permutation (Random 2020) 784

let permute (x: Tensor) =
    let n = x.Size 0
    x.Reshape([| n; 784L |]).IndexSelect(1L, Engine.indices perm).Reshape([| n; 1L; 28L; 28L |])

let permuted (s: SeedSet) = { s with Name = s.Name + " permuted"; Train = permute (fst s.Train), snd s.Train; Test = permute (fst s.Test), snd s.Test }

let meanStd (xs: float list) =
    let m = List.average xs
    m, (if xs.Length < 2 then 0.0 else sqrt ((xs |> List.sumBy (fun x -> (x - m) ** 2.0)) / float (xs.Length - 1)))

// The seed's Table 5: original / permuted, test accuracy.
let seedTable =
    Map [
        ("Fashion-MNIST", "MLP"), ("0.877", "0.889", "-0.012")
        ("Fashion-MNIST", "CNN"), ("0.921", "0.890", "0.031")
        ("MNIST", "MLP"), ("0.981", "0.982", "-0.001")
        ("MNIST", "CNN"), ("0.990", "0.974", "0.016")
    ]

let rows = ResizeArray<Row>()
let verdicts = ResizeArray<string>()
let wall = Diagnostics.Stopwatch.StartNew()

for setName in setNames do
    let original = load nTrain nTest setName
    let shuffled = permuted original
    for name, net in models do
        let o = baseFit (epochsFor name) 0L
        let accuracies (s: SeedSet) = [
            for seed in seeds ->
                let t, sec = train o seed (net baseKnobs) s in
                let a = testAccuracy o t s in
                Model.dispose t.Model
                a, sec
        ]
        let a, b = accuracies original, accuracies shuffled
        let (ma, sa), (mb, sb) = meanStd (List.map fst a), meanStd (List.map fst b)
        let seedO, seedP, seedD = seedTable.[(original.Name, name)]
        let secs xs = List.sumBy snd xs
        let d = ma - mb
        let spread = sqrt (sa * sa + sb * sb)
        rows.Add { Experiment = sprintf "%s %s, original" original.Name name; Seed = seedO; Ours = sprintf "%.4f ± %.4f" ma sa; Seconds = secs a }
        rows.Add { Experiment = sprintf "%s %s, permuted" original.Name name; Seed = seedP; Ours = sprintf "%.4f ± %.4f" mb sb; Seconds = secs b }
        rows.Add { Experiment = sprintf "%s %s, difference" original.Name name; Seed = seedD; Ours = sprintf "%+.4f ± %.4f" d spread; Seconds = 0.0 }
        verdicts.Add(
            sprintf
                "%s %s: original − permuted = %+.4f, %s seed noise (± %.4f over %d seeds)"
                original.Name
                name
                d
                (if abs d <= 2.0 * spread then "within" else "beyond")
                spread
                seeds.Length
        )

printTable (sprintf "Seed 004 Table 5: test accuracy, original vs permuted pixels (mean ± std over %d seeds)" seeds.Length) (List.ofSeq rows)
for v in verdicts do
    printfn "%s" v
printfn "whole table: %.0f s" wall.Elapsed.TotalSeconds

// Claim 11b on the real model at the same seed: the MLP from the permuted initialisation (first-layer columns
// permuted, W'[:, i] = W[:, π(i)]) trained on permuted images, against the MLP trained on the originals, same seed
// (same shuffles, same dropout masks). Every parameter after training should be the permutation of the other's.
let check = load (Some(if quick then 512 else 4096)) (Some 10) (List.head setNames)
let o = { baseFit 1 5L with ValidationSplit = None }
let m = Model.buildSeeded 5L [ 1L; 28L; 28L ] (mlp baseKnobs)
let firstPath = Tree.toList m.Params |> List.find (fun (_, t) -> t.Shape = [| 512L; 784L |]) |> fst
let permuteFirst (ps: Params) = Tree.update firstPath (fun (w: Tensor) -> w.IndexSelect(1L, Engine.indices perm)) ps
let mP = Model.withParams (permuteFirst m.Params) m
let x, y = check.Train
let a = Training.fit o m x (Value.T y)
let b = Training.fit o mP (permute x) (Value.T y)
let gaps = List.map2 (fun (p, u: Tensor) (_, v: Tensor) -> p, (u - v).Abs().Max().ToDouble()) (Tree.toList (permuteFirst a.Model.Params)) (Tree.toList b.Model.Params)
let identical = gaps |> List.forall (fun (_, g) -> g = 0.0)
let lossA, lossB = final "loss" a, final "loss" b
printfn "\nClaim 11b on the seed's MLP (%s, %d images, one epoch, %d steps, seed 5):" check.Name (int (x.Size 0)) ((int (x.Size 0) + 127) / 128)
printfn "  permuted run vs the permutation of the original run: max |Δθ| per parameter %s" (gaps |> List.map (fun (p, g) -> sprintf "%s %.2g" p g) |> String.concat ", ")
printfn "  epoch loss %.9f vs %.9f (|Δ| %.2g)" lossA lossB (abs (lossA - lossB))
printfn
    "  bit for bit: %s%s"
    (if identical then "yes" else "no")
    (if identical then "" else " — the same trajectory up to float32 rounding: each 784-term sum of the first layer adds the same products in another order")

// The claims themselves (src/Theory/PermutedPixels.fs): 11a forward, 11b gradient descent in float64, 11c the CNN.
let claimRows = [ PermutedPixels.claimForward; PermutedPixels.claimTrajectory; PermutedPixels.claimCnn ] |> List.map Runner.run
printfn "\nTheory claims 11a–11c (seed 004 Task 2):\n%s" (Runner.render claimRows)
