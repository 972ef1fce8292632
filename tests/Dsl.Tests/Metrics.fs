/// Metrics against hand computation: accuracy, top-k, binary accuracy, RMSE, MAE, user metrics and the
/// confusion matrix, on fixed tensors and as FsCheck properties over random predictions and labels;
/// and accumulation over batches in evaluate.
module Dsl.Tests.Metrics

open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators
open Dsl.Tests.TrainingData

/// The epoch value of a metric on one batch.
let private value (m: Metric) (p: Tensor) (t: Tensor) =
    let s, n = m.Batch (Value.T p) (Value.T t)
    m.Finish s n

/// Class scores with distinct values per row (a shuffled 0..c−1, so arg-max and top-k have no ties), and labels.
type ClassCase = { Classes: int; Scores: int[][]; Labels: int[]; K: int }

let private classArb =
    let g =
        gen {
            let! c = Gen.choose (2, 6)
            let! n = Gen.choose (1, 12)
            let! scores = Gen.arrayOfLength n (Gen.shuffle [| 0 .. c - 1 |])
            let! labels = Gen.arrayOfLength n (Gen.choose (0, c - 1))
            let! k = Gen.choose (1, c)
            return { Classes = c; Scores = scores; Labels = labels; K = k }
        }
    let shrink (c: ClassCase) =
        seq {
            if c.Labels.Length > 1 then for i in 0 .. c.Labels.Length - 1 -> { c with Scores = Array.removeAt i c.Scores; Labels = Array.removeAt i c.Labels }
            if c.K > 1 then yield { c with K = c.K - 1 }
        }
    Arb.fromGenShrink (g, shrink)

let private scoresOf (c: ClassCase) = f32 [ int64 c.Labels.Length; int64 c.Classes ] (c.Scores |> Array.concat |> Array.map float32)

let private labelsTensor (c: ClassCase) = Torch.From<int64>(Array.map int64 c.Labels, [| int64 c.Labels.Length |])

let private argmax (r: int[]) = Array.findIndex ((=) (Array.max r)) r

/// Predictions and targets of the same shape [n; d], values in [−2, 2].
let private pairsArb =
    let g =
        gen {
            let! n = Gen.choose (1, 10)
            let! d = Gen.choose (1, 3)
            let! p = Gen.arrayOfLength (n * d) (genValue -200 200)
            let! t = Gen.arrayOfLength (n * d) (genValue -200 200)
            return n, d, p, t
        }
    Arb.fromGen g

/// Labels and arg-max predictions for a confusion matrix.
type ConfusionCase = { Classes: int; Scores: int[][]; Labels: int[] }

/// This module's tests, the Expecto list "Metrics" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Metrics" [
        testPropertyWithConfig (maxTest 100) "accuracy is the fraction of rows whose arg-max is the label"
        <| fun () ->
            Prop.forAll classArb (fun c ->
                scoped (fun () ->
                    let hits = Array.map2 (fun r l -> if argmax r = l then 1 else 0) c.Scores c.Labels |> Array.sum
                    let s, n = Metric.accuracy.Batch (Value.T(scoresOf c)) (Value.T(labelsTensor c))
                    ensure (s = float hits && n = float c.Labels.Length) (sprintf "batch (%g, %g), expected (%d, %d)" s n hits c.Labels.Length)
                    ensure (value Metric.accuracy (scoresOf c) (labelsTensor c) = float hits / float c.Labels.Length) "finish is the mean"
                    true))

        testPropertyWithConfig (maxTest 100) "top-k accuracy is the fraction of rows whose label is among the k highest scores"
        <| fun () ->
            Prop.forAll classArb (fun c ->
                scoped (fun () ->
                    // Scores are 0..c−1, so the label is in the top k when its score is at least c − k.
                    let hits = Array.map2 (fun (r: int[]) l -> if r.[l] >= c.Classes - c.K then 1 else 0) c.Scores c.Labels |> Array.sum
                    let m = Metric.topK c.K
                    ensure (m.Name = sprintf "top%d_accuracy" c.K) m.Name
                    let got = value m (scoresOf c) (labelsTensor c)
                    ensure (got = float hits / float c.Labels.Length) (sprintf "top-%d accuracy %g, expected %d/%d" c.K got hits c.Labels.Length)
                    if c.K = 1 then ensure (got = value Metric.accuracy (scoresOf c) (labelsTensor c)) "top-1 equals accuracy"
                    if c.K = c.Classes then ensure (got = 1.0) "top-c is always right"
                    true))

        testPropertyWithConfig (maxTest 100) "binary accuracy thresholds logits at 0 and targets at 0.5"
        <| fun () ->
            let g =
                gen {
                    let! n = Gen.choose (1, 12)
                    let! logits = Gen.arrayOfLength n (genValue -200 200)
                    let! targets = Gen.arrayOfLength n (Gen.elements [ 0.0; 0.2; 0.5; 0.8; 1.0 ])
                    return logits, targets
                }
            Prop.forAll (Arb.fromGen g) (fun (logits, targets) ->
                scoped (fun () ->
                    let n = int64 logits.Length
                    let hits = Array.map2 (fun l t -> if (l > 0.0) = (t >= 0.5) then 1 else 0) logits targets |> Array.sum
                    let expected = float hits / float n
                    let p = f32 [ n; 1L ] (Array.map float32 logits)
                    // Targets as [n] or [n; 1], float or int.
                    for t in [ f32 [ n ] (Array.map float32 targets); f32 [ n; 1L ] (Array.map float32 targets) ] do
                        let got = value Metric.binaryAccuracy p t
                        ensure (got = expected) (sprintf "binary accuracy %g, expected %g" got expected)
                    true))

        testPropertyWithConfig (maxTest 100) "rmse and mae match their formulas"
        <| fun () ->
            Prop.forAll pairsArb (fun (n, d, p, t) ->
                scoped (fun () ->
                    let pt, tt = f64 [ int64 n; int64 d ] p, f64 [ int64 n; int64 d ] t
                    let rmse = sqrt (Array.map2 (fun a b -> (a - b) * (a - b)) p t |> Array.average)
                    let mae = Array.map2 (fun a b -> abs (a - b)) p t |> Array.average
                    let gotR, gotM = value Metric.rmse pt tt, value Metric.mae pt tt
                    ensure (abs (gotR - rmse) <= 1e-12) (sprintf "rmse %g, expected %g" gotR rmse)
                    ensure (abs (gotM - mae) <= 1e-12) (sprintf "mae %g, expected %g" gotM mae)
                    true))

        testPropertyWithConfig (maxTest 50) "metrics accumulated over batches in evaluate equal the metric on the whole data"
        <| fun () ->
            Prop.forAll pairsArb (fun (n, d, p, t) ->
                scoped (fun () ->
                    let pt, tt = f32 [ int64 n; int64 d ] (Array.map float32 p), f32 [ int64 n; int64 d ] (Array.map float32 t)
                    let model = Model.build [ int64 d ] identity
                    let metrics = [ Metric.rmse; Metric.mae; Metric.ofFunction "sq" (fun a b -> (a - b).Square().Sum([| -1L |])) ]
                    let whole = (Training.evaluateWith Loss.mse metrics n model pt (Value.T tt)).Values
                    for b in 1..n do
                        let batched = (Training.evaluateWith Loss.mse metrics b model pt (Value.T tt)).Values
                        for (name, v1), (_, v2) in List.zip whole batched do
                            ensure (abs (v1 - v2) <= 1e-5 * (1.0 + abs v1)) (sprintf "%s: %g whole, %g in batches of %d" name v1 v2 b)
                    // ofFunction's per-sample values are averaged over samples.
                    let sq = Array.map2 (fun a b -> (a - b) * (a - b)) p t |> Array.chunkBySize d |> Array.averageBy Array.sum
                    let got = whole |> List.find (fst >> (=) "sq") |> snd
                    ensure (abs (got - sq) <= 1e-4 * (1.0 + sq)) (sprintf "ofFunction %g, expected %g" got sq)
                    true))

        testPropertyWithConfig (maxTest 50) "accuracy accumulated over batches equals the whole-data accuracy exactly"
        <| fun () ->
            Prop.forAll classArb (fun c ->
                scoped (fun () ->
                    let model = Model.build [ int64 c.Classes ] identity
                    let n = c.Labels.Length
                    let metrics = [ Metric.accuracy; Metric.topK c.K ]
                    let whole = (Training.evaluateWith Loss.crossEntropy metrics n model (scoresOf c) (Value.T(labelsTensor c))).Values
                    for b in 1..n do
                        let batched = (Training.evaluateWith Loss.crossEntropy metrics b model (scoresOf c) (Value.T(labelsTensor c))).Values
                        ensure (List.tail whole = List.tail batched) (sprintf "batch %d: %A vs %A" b batched whole)
                    true))

        testCase "fixed tensors: accuracy, top-2, rmse, mae, ofFunction"
        <| fun () ->
            scoped (fun () ->
                let p = f32 [ 4L; 3L ] [| 0.1f; 0.7f; 0.2f; 0.9f; 0.05f; 0.05f; 0.3f; 0.3f; 0.4f; 0.2f; 0.5f; 0.3f |]
                let y = labelsOf [| 1L; 2L; 2L; 0L |]
                // arg-max: 1, 0, 2, 1 → hits rows 0 and 2.
                Expect.equal (value Metric.accuracy p y) 0.5 "value Metric.accuracy p y"
                // top-2 of [0.1, 0.7, 0.2] is {1, 2}: label 1 is in it; top-2 of [0.2, 0.5, 0.3] is {1, 2}: label 0 is not.
                let p2 = f32 [ 2L; 3L ] [| 0.1f; 0.7f; 0.2f; 0.2f; 0.5f; 0.3f |]
                let y2 = labelsOf [| 1L; 0L |]
                Expect.equal (value (Metric.topK 2) p2 y2) 0.5 "value (Metric.topK 2) p2 y2"
                let a, b = f64 [ 2L; 2L ] [| 1.0; 2.0; 3.0; 4.0 |], f64 [ 2L; 2L ] [| 1.0; 0.0; 5.0; 4.0 |]
                Expect.floatClose (within 1e-12) (value Metric.rmse a b) (sqrt 2.0) "value Metric.rmse a b"
                Expect.equal (value Metric.mae a b) 1.0 "value Metric.mae a b"
                let m = Metric.ofFunction "abs_sum" (fun p t -> (p - t).Abs().Sum([| -1L |]))
                Expect.equal m.Name "abs_sum" "m.Name"
                Expect.equal (value m a b) 2.0 "per-sample sums 2 and 2, mean 2")

        testCase "metrics with no samples finish as NaN"
        <| fun () ->
            Expect.isNaN (Metric.accuracy.Finish 0.0 0.0) "Metric.accuracy.Finish 0.0 0.0"
            Expect.isNaN (Metric.rmse.Finish 0.0 0.0) "Metric.rmse.Finish 0.0 0.0"

        testPropertyWithConfig (maxTest 100) "the confusion matrix counts (true, predicted) pairs"
        <| fun () ->
            let g =
                gen {
                    let! c = Gen.choose (2, 5)
                    let! n = Gen.choose (0, 15)
                    let! scores = Gen.arrayOfLength n (Gen.shuffle [| 0 .. c - 1 |])
                    let! labels = Gen.arrayOfLength n (Gen.choose (0, c - 1))
                    return { Classes = c; Scores = scores; Labels = labels }
                }
            Prop.forAll (Arb.fromGen g) (fun c ->
                scoped (fun () ->
                    let n = c.Labels.Length
                    let p = f32 [ int64 n; int64 c.Classes ] (c.Scores |> Array.concat |> Array.map float32)
                    let m = Metric.confusionMatrix c.Classes p (Torch.From<int64>(Array.map int64 c.Labels, [| int64 n |]))
                    let expected = Array2D.zeroCreate<int64> c.Classes c.Classes
                    Array.iter2 (fun r l -> expected.[l, argmax r] <- expected.[l, argmax r] + 1L) c.Scores c.Labels
                    ensure (m = expected) (sprintf "got %A, expected %A" m expected)
                    let total = Seq.cast<int64> m |> Seq.sum
                    ensure (total = int64 n) "every sample counted once"
                    true))

        testCase "a fixed confusion matrix"
        <| fun () ->
            scoped (fun () ->
                let p = f32 [ 5L; 3L ] [| 9.0f; 0.0f; 0.0f; 0.0f; 9.0f; 0.0f; 0.0f; 9.0f; 0.0f; 0.0f; 0.0f; 9.0f; 9.0f; 0.0f; 0.0f |]
                let y = labelsOf [| 0L; 1L; 2L; 2L; 1L |]
                let m = Metric.confusionMatrix 3 p y
                expectEqual "matrix (rows: truth, columns: prediction)" (array2D [ [ 1L; 0L; 0L ]; [ 1L; 1L; 0L ]; [ 0L; 1L; 1L ] ]) m)
    ]
