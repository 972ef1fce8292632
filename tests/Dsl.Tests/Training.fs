/// fit, evaluate, predict, predictTopK and findLearningRate on small synthetic problems: convergence,
/// bit-identical reproducibility from a seed, progress lines, class weights against the hand-computed
/// weighted cross-entropy, rejection of bad input before any training step, and multi-head models.
module Dsl.Tests.Training

open System
open System.Text.RegularExpressions
open Expecto
open FsCheck
open FsCheck.FSharp
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators
open Dsl.Tests.TrainingData

/// −log softmax(logits)[y], in float64.
let private crossEntropyOf (logits: float[]) (y: int) =
    let m = Array.max logits
    let lse = m + log (Array.sumBy (fun v -> exp (v - m)) logits)
    lse - logits.[y]

/// Rows of a [n; c] tensor as float64 arrays.
let private rows (t: Tensor) : float[][] =
    let c = int (t.Size 1)
    values t |> Array.chunkBySize c

let private fruit = [ "apple"; "avocado"; "banana" ]
let private blobNet = dense 16 >-> relu >-> dense 3

// ---------------------------------------------------------------- 2. reproducibility

let private reproNet = dense 32 >-> relu >-> dropout 0.3 >-> dense 3

let private reproRun (seed: int64) =
    let x, y = blobs 3 20 2.0 1.0 9L
    let o = {
        quiet with
            Optimizer = Optimizers.adam 0.01
            Epochs = 4
            BatchSize = 8
            Shuffle = true
            Seed = seed
            ValidationSplit = Some 0.25
            Metrics = [ Metric.accuracy; Metric.topK 2 ]
    }
    Training.fit o (Model.buildSeeded 1L [ 2L ] reproNet) x (Value.T y)

let private sameHistory (a: Trained) (b: Trained) =
    a.History.Length = b.History.Length
    && List.forall2 (fun (p: EpochLogs) (q: EpochLogs) -> p.Epoch = q.Epoch && p.Values = q.Values && p.LearningRate = q.LearningRate) a.History b.History

// ---------------------------------------------------------------- 5. progress lines

let private epochLine (epochs: int) =
    Regex(sprintf @"^Epoch (\d+)/%d - \d+\.\ds - loss: -?\d+\.\d{4} - accuracy: \d\.\d{4} - val_loss: -?\d+\.\d{4} - val_accuracy: \d\.\d{4}$" epochs)

let private progressRun (verbosity: Verbosity) =
    let x, y = blobs 3 20 3.0 0.5 1L
    let o = { FitOptions.Default with Optimizer = Optimizers.adam 0.01; Epochs = 3; BatchSize = 16; ValidationSplit = Some 0.25; Verbosity = verbosity }
    capture (fun () -> Training.fit o (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y))

let private expectEpochLines (verbosity: Verbosity) =
    scoped (fun () ->
        let r, text = progressRun verbosity
        match r with
        | Error e -> raise e
        | Ok t ->
            let ls = lines text
            Expect.equal ls.Length 3 (sprintf "one line per epoch; output:\n%s" text)
            ls
            |> List.iteri (fun i l ->
                let m = (epochLine 3).Match l
                Expect.isTrue m.Success (sprintf "line %d does not match the epoch format: %s" (i + 1) l)
                Expect.equal (m.Groups.[1].Value) (string (i + 1)) l
                // The printed values are the history's, rounded to 4 decimals.
                let h = t.History.[i]
                for (name, v) in h.Values do
                    expectContains (sprintf " - %s: %s" name (v.ToString("F4", Globalization.CultureInfo.InvariantCulture))) l))

// ---------------------------------------------------------------- 6. class weights

/// Logits [n; c], labels and class weights (all positive).
type private WeightedCase = { Classes: int; Logits: float[]; Labels: int[]; Weights: float[] }

let private weightedArb =
    let g =
        gen {
            let! c = Gen.choose (2, 5)
            let! n = Gen.choose (1, 12)
            let! logits = Gen.arrayOfLength (n * c) (genValue -300 300)
            let! labels = Gen.arrayOfLength n (Gen.choose (0, c - 1))
            let! weights = Gen.arrayOfLength c (genValue 10 500)
            return { Classes = c; Logits = logits; Labels = labels; Weights = weights }
        }
    Arb.fromGen g

let private weightedExpected (c: WeightedCase) =
    let rs = c.Logits |> Array.chunkBySize c.Classes
    let num = Array.map2 (fun r y -> c.Weights.[y] * crossEntropyOf r y) rs c.Labels |> Array.sum
    let den = c.Labels |> Array.sumBy (fun y -> c.Weights.[y])
    num / den

let private weightedLoss (w: float[]) = Loss.crossEntropy.WithClassWeights.Value(f32 [ int64 w.Length ] (Array.map float32 w))

// ---------------------------------------------------------------- 7. bad input

/// Fits with a spy and Lines output; asserts that fit throws an ArgumentException whose message contains
/// every part, before any callback ran and without printing an epoch line.
let private expectRejected (parts: string list) (o: FitOptions) (model: Model) (x: Tensor) (y: Value) =
    let cb, calls = spy ()
    let r, text = capture (fun () -> Training.fit { o with Callbacks = [ cb ]; Verbosity = Lines } model x y)
    match r with
    | Ok t -> failtest (sprintf "fit accepted the input (parts %A) and trained %d epochs" parts t.History.Length)
    | Error e ->
        Expect.isTrue (e :? ArgumentException) (sprintf "%s: %s" (e.GetType().Name) e.Message)
        for p in parts do
            expectContains p e.Message
        Expect.isEmpty (List.ofSeq calls) (sprintf "callbacks ran before the error (%s)" e.Message)
        expectNotContains "Epoch" text

let private tenClass () = Model.buildSeeded 1L [ 2L ] (dense 10)

let private someInputs (n: int) : Tensor =
    use g = new Generator(3L)
    Torch.Randn([| int64 n; 2L |], g)

/// This module's tests, the Expecto list "Training" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Training" [
        // ---------------------------------------------------------------- 1. convergence, evaluate, predict
        testCase "fit reaches 100% training accuracy on separable blobs and leaves the given model unchanged"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 30 3.0 0.5 1L
                let model = Model.buildSeeded 1L [ 2L ] blobNet
                let before = Params.clone model.Params
                let o = { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 30; BatchSize = 16; Metrics = [ Metric.accuracy; Metric.topK 2 ] }
                let t = Training.fit o model x (Value.T y)
                Expect.equal t.History.Length 30 "t.History.Length"
                expectEqual "epoch numbers" [ 1..30 ] (t.History |> List.map (fun l -> l.Epoch))
                expectEqual "logged names" [ "loss"; "accuracy"; "top2_accuracy" ] ((List.last t.History).Values |> List.map fst)
                Expect.equal (logged "accuracy" (List.last t.History)) 1.0 "training accuracy of the last epoch"
                let ev = (Training.evaluate o t.Model x (Value.T y)).Values
                expectEqual "evaluate names" [ "loss"; "accuracy"; "top2_accuracy" ] (List.map fst ev)
                let get n = ev |> List.find (fst >> (=) n) |> snd
                Expect.equal (get "accuracy") 1.0 "evaluate accuracy"
                Expect.equal (get "top2_accuracy") 1.0 "evaluate top-2 accuracy"
                Expect.isLessThan (get "loss") 0.1 "evaluate loss"
                Expect.isLessThan (get "loss") (logged "loss" t.History.Head) "the loss went down"
                expectSameParams "the model passed to fit" before model.Params)

        testCase "evaluate returns the loss and every metric as computed from predict"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 3.0 1.0 2L
                let model = Model.buildSeeded 3L [ 2L ] blobNet
                let metrics = [ Metric.accuracy; Metric.topK 2; Metric.ofFunction "mean_max_logit" (fun p _ -> p.Amax([| -1L |])) ]
                // 60 samples in batches of 7: the last batch is short, every metric must still be a per-sample mean.
                let ev = (Training.evaluateWith Loss.crossEntropy metrics 7 model x (Value.T y)).Values
                expectEqual "names" [ "loss"; "accuracy"; "top2_accuracy"; "mean_max_logit" ] (List.map fst ev)
                let logits = rows (Model.forward model x)
                let labels = y.ToArray<int64>() |> Array.map int
                let n = float labels.Length
                let expLoss = Array.map2 crossEntropyOf logits labels |> Array.average
                let argmax (r: float[]) = Array.findIndex ((=) (Array.max r)) r
                let expAcc = float (Array.map2 (fun r l -> if argmax r = l then 1 else 0) logits labels |> Array.sum) / n
                let expTop2 =
                    float (Array.map2 (fun (r: float[]) l -> if (r |> Array.filter (fun v -> v > r.[l]) |> Array.length) < 2 then 1 else 0) logits labels |> Array.sum) / n
                let expMax = logits |> Array.averageBy Array.max
                let got = Map.ofList ev
                Expect.floatClose (within 1e-5) got.["loss"] expLoss "loss"
                Expect.floatClose (within 1e-12) got.["accuracy"] expAcc "accuracy"
                Expect.floatClose (within 1e-12) got.["top2_accuracy"] expTop2 "top-2 accuracy"
                Expect.floatClose (within 1e-5) got.["mean_max_logit"] expMax "ofFunction metric"
                // Batch size does not change evaluate's result (beyond float rounding).
                let whole = (Training.evaluateWith Loss.crossEntropy metrics 60 model x (Value.T y)).Values
                for (n1, v1), (_, v2) in List.zip ev whole do
                    Expect.floatClose (within 1e-5) v1 v2 (sprintf "%s with batch 7 vs 60" n1))

        testCase "predict returns one row of class scores per sample, equal to the model's forward"
        <| fun () ->
            scoped (fun () ->
                let x, _ = blobs 3 11 3.0 0.5 4L
                let model = Model.buildSeeded 1L [ 2L ] blobNet
                let out = Training.predict 5 model x |> Value.tensor
                expectEqual "shape" [| 33L; 3L |] out.Shape
                Expect.isTrue (out.Equal(Model.forward model x)) "predict by batches of 5 equals one forward pass"
                let heads = Model.buildSeeded 1L [ 2L ] (dense 8 >-> fanOut [ "a", dense 4; "b", dense 1 ])
                match Training.predict 4 heads x with
                | Value.Heads [ ("a", Value.T a); ("b", Value.T b) ] ->
                    expectEqual "head a shape" [| 33L; 4L |] a.Shape
                    expectEqual "head b shape" [| 33L; 1L |] b.Shape
                | v -> failtest (sprintf "expected heads a and b, got %A" (Value.shape v)))

        testCase "predictTopK and formatTopK name the classes with their probabilities"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 30 3.0 0.5 1L
                let model = Model.buildSeeded 1L [ 2L ] blobNet
                let t = Training.fit { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 30; BatchSize = 16 } model x (Value.T y)
                // Points far inside each class's region: the trained model is certain.
                let probe = f32 [ 3L; 2L ] (Array.concat [ blobCenter 3 3.0 20.0 1; blobCenter 3 3.0 20.0 0; blobCenter 3 3.0 20.0 2 ])
                let ranked = Training.predictTopK 2 fruit t.Model probe
                expectEqual "top labels" [ "avocado"; "apple"; "banana" ] (ranked |> List.map (fun r -> r.Head.Label))
                for r in ranked do
                    Expect.equal r.Length 2 "r.Length"
                    Expect.isGreaterThanOrEqual (r.[0].Probability) (r.[1].Probability) "ranked by probability"
                    Expect.isLessThanOrEqual (r.[0].Probability + r.[1].Probability) (1.0 + 1e-6) "r.[0].Probability + r.[1].Probability"
                let text = Training.formatTopK ranked.Head
                let ls = text.Split('\n')
                Expect.equal ls.Length 2 text
                Expect.equal ls.[0] "#1 avocado @ 100.00%" text
                Expect.isTrue (Regex.IsMatch(ls.[1], @"^#2 (apple|banana) @ \d+\.\d\d%$")) text
                // k larger than the number of classes gives every class once, probabilities summing to 1.
                let all = Training.predictTopK 10 fruit t.Model probe
                for r in all do
                    expectEqual "every class once" (List.sort fruit) (r |> List.map (fun v -> v.Label) |> List.sort)
                    Expect.floatClose (within 1e-5) (r |> List.sumBy (fun v -> v.Probability)) 1.0 "r |> List.sumBy (fun v -> v.Probability)")

        testCase "predictTopK rejects a list of class names that does not match the model's classes"
        <| fun () ->
            scoped (fun () ->
                let x, _ = blobs 3 4 3.0 0.5 1L
                let model = Model.buildSeeded 1L [ 2L ] (dense 3)
                for names in [ [ "apple"; "avocado" ]; [ "apple"; "avocado"; "banana"; "cherry" ] ] do
                    match
                        (try
                            Training.predictTopK 2 names model x |> ignore
                            None
                         with e ->
                             Some e)
                    with
                    | None -> failtest (sprintf "%d class names for a 3-class model were accepted" names.Length)
                    | Some e ->
                        Expect.isTrue (e :? ArgumentException) e.Message
                        expectContains (sprintf "%d class names" names.Length) e.Message
                        expectContains "3 classes" e.Message)

        testCase "formatTopK prints one ranked line per class"
        <| fun () ->
            let text = Training.formatTopK [ { Label = "avocado"; Probability = 1.0 }; { Label = "apple"; Probability = 0.123456 }; { Label = "fig"; Probability = 0.0 } ]
            Expect.equal text "#1 avocado @ 100.00%\n#2 apple @ 12.35%\n#3 fig @ 0.00%" "text"

        // ---------------------------------------------------------------- 2. reproducibility
        testPropertyWithConfig (maxTest 4) "the same seed gives a bit-identical history and parameters (shuffle and dropout on)"
        <| fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 1000))) (fun seed ->
                scoped (fun () ->
                    let a, b = reproRun (int64 seed), reproRun (int64 seed)
                    for p, q in List.zip a.History b.History do
                        ensure (p.Values = q.Values) (sprintf "seed %d epoch %d: %A <> %A" seed p.Epoch p.Values q.Values)
                    ensure (sameHistory a b) "histories differ"
                    ensure (sameParams a.Model.Params b.Model.Params) "final parameters differ"
                    ensure
                        ((List.head a.History).Values |> List.map fst = [ "loss"; "accuracy"; "top2_accuracy"; "val_loss"; "val_accuracy"; "val_top2_accuracy" ])
                        "logged names"
                    true))

        testCase "a different seed gives a different history"
        <| fun () ->
            scoped (fun () ->
                let a, b = reproRun 1L, reproRun 2L
                Expect.isFalse (sameHistory a b) "seeds 1 and 2 gave the same history"
                Expect.notEqual (logged "loss" a.History.Head) (logged "loss" b.History.Head) "first-epoch training loss"
                Expect.isFalse (sameParams a.Model.Params b.Model.Params) "seeds 1 and 2 gave the same parameters")

        testCase "dropout uses the seed: without shuffling, seeds still differ, and eval-mode val_loss is unaffected at epoch 0"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 2.0 1.0 9L
                let run seed =
                    Training.fit
                        { quiet with Optimizer = Optimizers.sgd 0.0; Epochs = 1; BatchSize = 8; Shuffle = false; Seed = seed; ValidationSplit = Some 0.25 }
                        (Model.buildSeeded 1L [ 2L ] reproNet)
                        x
                        (Value.T y)
                let a, b = run 1L, run 2L
                // With lr 0 the parameters never change: training loss differs only through the dropout masks,
                // validation (Eval mode, no dropout) is identical.
                Expect.notEqual (logged "loss" a.History.Head) (logged "loss" b.History.Head) "dropout masks depend on the seed"
                Expect.equal (logged "val_loss" a.History.Head) (logged "val_loss" b.History.Head) "validation runs in Eval mode")

        // ---------------------------------------------------------------- 5. progress lines
        testCase "Lines prints exactly one Keras-style line per epoch" <| fun () -> expectEpochLines Lines

        testCase "Auto prints one line per epoch when output is redirected"
        <| fun () ->
            if not Console.IsOutputRedirected then skiptest "stdout of the test host is a terminal"
            if Progress.isTerminal () then skiptest "Progress.isTerminal () is true"
            expectEpochLines Verbosity.Auto

        testCase "Silent prints nothing"
        <| fun () ->
            scoped (fun () ->
                let r, text = progressRun Silent
                Expect.isTrue (Result.isOk r) "Result.isOk r"
                Expect.isEmpty text "text")

        // ---------------------------------------------------------------- 6. class weights
        testPropertyWithConfig (maxTest 60) "weighted cross-entropy is sum w[y]·(−log p[y]) / sum w[y], as PyTorch's"
        <| fun () ->
            Prop.forAll weightedArb (fun c ->
                scoped (fun () ->
                    let n = c.Labels.Length
                    let model = Model.build [ int64 c.Classes ] identity
                    let x = f32 [ int64 n; int64 c.Classes ] (Array.map float32 c.Logits)
                    let y = Torch.From<int64>(Array.map int64 c.Labels, [| int64 n |])
                    let o = { quiet with Loss = weightedLoss c.Weights; Metrics = []; BatchSize = n }
                    let got = (Training.evaluate o model x (Value.T y)).["loss"]
                    let expected = weightedExpected c
                    ensure (abs (got - expected) <= 1e-5 + 1e-5 * abs expected) (sprintf "weighted loss %g, expected %g" got expected)
                    let plain = (Training.evaluate { o with Loss = Loss.crossEntropy } model x (Value.T y)).["loss"]
                    let plainExpected = weightedExpected { c with Weights = Array.create c.Classes 1.0 }
                    ensure (abs (plain - plainExpected) <= 1e-5 + 1e-5 * abs plainExpected) (sprintf "plain loss %g, expected %g" plain plainExpected)
                    true))

        testCase "fit with class weights follows a different trajectory; unit weights follow the same one"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 2.0 1.0 5L
                let run w =
                    Training.fit { quiet with Optimizer = Optimizers.adam 0.01; Epochs = 3; BatchSize = 10; ClassWeights = w } (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
                let plain, weighted, ones = run None, run (Some [| 1.0; 8.0; 0.2 |]), run (Some [| 1.0; 1.0; 1.0 |])
                Expect.notEqual (plain.Series "loss") (weighted.Series "loss") "class weights change the loss"
                Expect.isFalse (sameParams plain.Model.Params weighted.Model.Params) "class weights change the parameters"
                Expect.isTrue
                    (close 1e-5 1e-5 (Array.ofList (ones.Series "loss")) (Array.ofList (plain.Series "loss")))
                    (sprintf "unit weights: %A vs %A" (ones.Series "loss") (plain.Series "loss")))

        // ---------------------------------------------------------------- 7. bad input
        testCase "labels outside [0, classes) are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x = someInputs 6
                expectRejected [ "labels"; "10 classes"; "10]" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 10L; 1L; 2L |]))
                expectRejected [ "labels"; "10 classes"; "-1" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; -1L; 9L; 5L; 1L; 2L |]))
                // Also in one head of a multi-head model.
                let heads = Model.buildSeeded 1L [ 2L ] (fanOut [ "hour", dense 12; "minute", dense 60 ])
                let o = { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0; "minute", Loss.crossEntropy, 1.0 ]; Metrics = [] }
                expectRejected
                    [ "labels"; "60 classes" ]
                    o
                    heads
                    x
                    (Value.Heads [ "hour", Value.T(labelsOf [| 0L; 1L; 2L; 3L; 4L; 11L |]); "minute", Value.T(labelsOf [| 0L; 1L; 2L; 3L; 4L; 60L |]) ]))

        testCase "validation labels outside [0, classes) are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x = someInputs 6
                let y = labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                let o = { quiet with ValidationData = Some(DataSource.Tensors(someInputs 3, Value.T(labelsOf [| 0L; 10L; 1L |]))) }
                expectRejected [ "10 classes" ] o (tenClass ()) x (Value.T y))

        testCase "batch size 0 and -1 are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                for b in [ 0; -1 ] do
                    expectRejected [ "batch size"; string b ] { quiet with BatchSize = b } (tenClass ()) x (Value.T y)
                expectThrows<ArgumentException>(fun () -> Training.evaluateWith Loss.crossEntropy [] 0 (tenClass ()) x (Value.T y) |> ignore) |> ignore
                expectThrows<ArgumentException>(fun () -> Training.predict 0 (tenClass ()) x |> ignore) |> ignore)

        testCase "validation splits 0, 1 and 1.5 are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                for s in [ 0.0; 1.0; 1.5; -0.2 ] do
                    expectRejected [ "validation split"; string s ] { quiet with ValidationSplit = Some s } (tenClass ()) x (Value.T y)
                // A split that leaves no validation sample.
                expectRejected [ "split" ] { quiet with ValidationSplit = Some 0.1 } (tenClass ()) x (Value.T y))

        testCase "metrics that need another output shape are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                expectRejected [ "binary_accuracy"; "(None, 10)" ] { quiet with Metrics = [ Metric.binaryAccuracy ] } (tenClass ()) x (Value.T y)
                let three = Model.buildSeeded 1L [ 2L ] (dense 3)
                expectRejected [ "top5_accuracy"; "5"; "(None, 3)" ] { quiet with Metrics = [ Metric.topK 5 ] } three x (Value.T(labelsOf [| 0L; 1L; 2L; 0L; 1L; 2L |])))

        testCase "regression metrics on class scores with int labels are rejected before training"
        <| fun () ->
            // rmse/mae compare outputs with targets of the same shape; (None, 10) scores against (None) labels
            // cannot be compared, which is known before the first step.
            scoped (fun () ->
                let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                expectRejected [ "mae" ] { quiet with Metrics = [ Metric.mae ] } (tenClass ()) x (Value.T y))

        testCase "class weights of the wrong length are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
                expectRejected [ "3 class weights"; "10 classes" ] { quiet with ClassWeights = Some [| 1.0; 2.0; 3.0 |] } (tenClass ()) x (Value.T y)
                expectRejected
                    [ "class weights"; "mse" ]
                    { quiet with Loss = Loss.mse; Metrics = []; ClassWeights = Some(Array.create 10 1.0) }
                    (tenClass ())
                    x
                    (Value.T(f32 [ 6L; 10L ] (Array.zeroCreate 60))))

        testCase "inputs and targets of different lengths, and zero epochs, are rejected before training"
        <| fun () ->
            scoped (fun () ->
                let x = someInputs 6
                expectRejected [ "6 inputs"; "5 targets" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 5L; 1L |]))
                expectRejected [ "epochs" ] { quiet with Epochs = 0 } (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |])))

        // ---------------------------------------------------------------- 10. learning-rate finder
        testCase "findLearningRate returns an increasing curve within [minLr, maxLr], a suggestion inside it, and leaves the model alone"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 40 3.0 0.7 6L
                let model = Model.buildSeeded 1L [ 2L ] blobNet
                let before = Params.clone model.Params
                let minLr, maxLr = 1e-4, 1.0
                let r = Training.findLearningRate { quiet with Optimizer = Optimizers.sgd 0.1; BatchSize = 16 } minLr maxLr 60 model x (Value.T y)
                Expect.isGreaterThanOrEqual r.Curve.Length 3 "r.Curve.Length"
                Expect.isLessThanOrEqual r.Curve.Length 60 "r.Curve.Length"
                let lrs = r.Curve |> List.map fst
                Expect.floatClose (within 1e-12) lrs.Head minLr "lrs.Head"
                for a, b in List.pairwise lrs do
                    Expect.isGreaterThan b a "learning rates increase"
                Expect.isLessThanOrEqual (List.last lrs) (maxLr * (1.0 + 1e-9)) "List.last lrs"
                Expect.isTrue
                    (r.Curve |> List.forall (fun (_, l) -> Double.IsFinite l || Double.IsNaN l))
                    "r.Curve |> List.forall (fun (_, l) -> Double.IsFinite l || Double.IsNaN l)"
                expectInRange minLr maxLr r.Suggested "r.Suggested"
                Expect.isTrue (lrs |> List.contains r.Suggested) "the suggestion is a rate of the curve"
                expectSameParams "findLearningRate's model" before model.Params)

        testCase "findLearningRate works when the loss falls far below its starting value"
        <| fun () ->
            // An easy problem: the smoothed loss drops by far more than half from its first value.
            scoped (fun () ->
                let x, y = blobs 2 40 4.0 0.3 6L
                let model = Model.buildSeeded 1L [ 2L ] (dense 16 >-> relu >-> dense 2)
                let r = Training.findLearningRate { quiet with Optimizer = Optimizers.adam 1e-3; BatchSize = 8 } 1e-3 1.0 100 model x (Value.T y)
                let losses = r.Curve |> List.map snd
                Expect.isLessThan (List.min losses) (List.head losses / 2.0) "the loss falls well below its start"
                expectInRange 1e-3 1.0 r.Suggested "r.Suggested")

        // ---------------------------------------------------------------- 11. multi-head
        testCase "a two-head model trains with perHead losses and per-head metrics"
        <| fun () ->
            scoped (fun () ->
                let x, hours, minutes = clock 120
                let y = Value.Heads [ "hour", Value.T(labelsOf hours); "minute", Value.T(labelsOf minutes) ]
                let net = dense 32 >-> relu >-> fanOut [ "hour", dense 12; "minute", dense 60 ]
                let model = Model.buildSeeded 1L [ 4L ] net
                let loss = Loss.perHead [ "hour", Loss.crossEntropy, 6.0; "minute", Loss.crossEntropy, 4.0 ]
                let metrics = [ Metric.onHead "hour" Metric.accuracy; Metric.onHead "minute" Metric.accuracy; Metric.onHead "minute" (Metric.topK 5) ]
                let o = { quiet with Loss = loss; Metrics = metrics; Optimizer = Optimizers.adam 0.01; Epochs = 25; BatchSize = 16; ValidationSplit = Some 0.2 }
                let t = Training.fit o model x y
                expectEqual
                    "logged names"
                    [ "loss"; "hour_accuracy"; "minute_accuracy"; "minute_top5_accuracy"; "val_loss"; "val_hour_accuracy"; "val_minute_accuracy"; "val_minute_top5_accuracy" ]
                    (t.History.Head.Values |> List.map fst)
                Expect.isLessThan (logged "loss" (List.last t.History)) (logged "loss" t.History.Head / 2.0) "the loss fell"
                Expect.isGreaterThan (logged "hour_accuracy" (List.last t.History)) 0.9 "the hour is easy to learn"
                // evaluate's loss is 6·CE(hour) + 4·CE(minute) on the batch; the metrics are per head.
                let ev = Training.evaluate { o with BatchSize = 120 } t.Model x y
                let out = Model.forwardValue t.Model x
                let hl, ml = rows (Value.tensor (Value.head "hour" out)), rows (Value.tensor (Value.head "minute" out))
                let ceH = Array.map2 crossEntropyOf hl (Array.map int hours) |> Array.average
                let ceM = Array.map2 crossEntropyOf ml (Array.map int minutes) |> Array.average
                Expect.floatClose (within (1e-4 * (6.0 * ceH + 4.0 * ceM) + 1e-6)) ev.["loss"] (6.0 * ceH + 4.0 * ceM) "6·CE_hour + 4·CE_minute"
                let acc (rs: float[][]) (ls: int64[]) =
                    float (Array.map2 (fun (r: float[]) l -> if Array.findIndex ((=) (Array.max r)) r = int l then 1 else 0) rs ls |> Array.sum) / float ls.Length
                Expect.floatClose (within 1e-12) ev.["hour_accuracy"] (acc hl hours) "ev.[\"hour_accuracy\"]"
                Expect.floatClose (within 1e-12) ev.["minute_accuracy"] (acc ml minutes) "ev.[\"minute_accuracy\"]")

        testCase "perHead and onHead reject models without the named head"
        <| fun () ->
            scoped (fun () ->
                let x, hours, minutes = clock 12
                let y = Value.Heads [ "hour", Value.T(labelsOf hours); "minute", Value.T(labelsOf minutes) ]
                let model = Model.buildSeeded 1L [ 4L ] (fanOut [ "hour", dense 12; "minute", dense 60 ])
                expectRejected [ "second" ] { quiet with Loss = Loss.perHead [ "second", Loss.crossEntropy, 1.0 ]; Metrics = [] } model x y
                expectRejected [ "second" ] { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0 ]; Metrics = [ Metric.onHead "second" Metric.accuracy ] } model x y
                let single = Model.buildSeeded 1L [ 4L ] (dense 12)
                expectRejected [ "multi-head" ] { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0 ]; Metrics = [] } single x (Value.T(labelsOf hours)))

        // ---------------------------------------------------------------- augmentation through fit's loader
        testCase "fit applies Augment to every training batch once and never to validation data"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 30 3.0 0.5 4L // 90 samples; a split of 0.2 leaves 72 for training
                let seen = Collections.Concurrent.ConcurrentQueue<int64>()
                let record =
                    Data.Transform.FromFunc(
                        (fun t ->
                            seen.Enqueue(t.Size 0)
                            t.Clone()),
                        "record"
                    )
                let o = { quiet with Epochs = 3; BatchSize = 16; ValidationSplit = Some 0.2; Augment = Some record }
                Training.fit o (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y) |> ignore
                expectEqual "batch sizes the augmentation saw (3 epochs of 72 = 4 × 16 + 8)" (List.replicate 3 [ 16L; 16L; 16L; 16L; 8L ] |> List.concat) (List.ofSeq seen))

        testCase "fit trains on the augmented inputs"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 30 3.0 0.5 5L
                let o = { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 20; BatchSize = 16 }
                let plain = Training.fit o (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
                Expect.equal (logged "accuracy" (List.last plain.History)) 1.0 "the blobs are separable"
                // With every input erased the model only sees labels: it cannot beat the majority class (1/3).
                let erased = Training.fit { o with Augment = Some(Data.Transform.FromFunc(fun t -> Torch.ZerosLike t)) } (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
                Expect.isLessThanOrEqual (logged "accuracy" (List.last erased.History)) 0.4 "trained on erased inputs")

        testCase "a random augmentation gives a bit-identical history from the same seed and another from a different seed"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 30 3.0 1.0 6L
                let noisy = Data.GaussianNoise(0.5)
                let run seed =
                    (Training.fit
                        { quiet with Epochs = 3; BatchSize = 16; Seed = seed; Augment = Some(noisy :> Data.Transform) }
                        (Model.buildSeeded 1L [ 2L ] blobNet)
                        x
                        (Value.T y))
                        .History
                    |> List.map (logged "loss")
                expectEqual "same seed" (run 3L) (run 3L)
                Expect.notEqual (run 4L) (run 3L) "another seed draws other noise (and another order)")
    ]
