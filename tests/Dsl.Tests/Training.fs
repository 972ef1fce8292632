/// fit, evaluate, predict, predictTopK and findLearningRate on small synthetic problems: convergence,
/// bit-identical reproducibility from a seed, progress lines, class weights against the hand-computed
/// weighted cross-entropy, rejection of bad input before any training step, and multi-head models.
module Dsl.Tests.Training

open System
open System.Text.RegularExpressions
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open FsCheck.NUnit
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

// ---------------------------------------------------------------- 1. convergence, evaluate, predict

[<Test>]
let ``fit reaches 100% training accuracy on separable blobs and leaves the given model unchanged`` () =
    scoped (fun () ->
        let x, y = blobs 3 30 3.0 0.5 1L
        let model = Model.buildSeeded 1L [ 2L ] blobNet
        let before = Params.clone model.Params
        let o = { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 30; BatchSize = 16; Metrics = [ Metric.accuracy; Metric.topK 2 ] }
        let t = Training.fit o model x (Value.T y)
        Assert.That(t.History.Length, Is.EqualTo 30)
        expectEqual "epoch numbers" [ 1 .. 30 ] (t.History |> List.map (fun l -> l.Epoch))
        expectEqual "logged names" [ "loss"; "accuracy"; "top2_accuracy" ] ((List.last t.History).Values |> List.map fst)
        Assert.That(logged "accuracy" (List.last t.History), Is.EqualTo 1.0, "training accuracy of the last epoch")
        let ev = Training.evaluate o t.Model x (Value.T y)
        expectEqual "evaluate names" [ "loss"; "accuracy"; "top2_accuracy" ] (List.map fst ev)
        let get n = ev |> List.find (fst >> (=) n) |> snd
        Assert.That(get "accuracy", Is.EqualTo 1.0, "evaluate accuracy")
        Assert.That(get "top2_accuracy", Is.EqualTo 1.0, "evaluate top-2 accuracy")
        Assert.That(get "loss", Is.LessThan 0.1, "evaluate loss")
        Assert.That(get "loss", Is.LessThan(logged "loss" t.History.Head), "the loss went down")
        expectSameParams "the model passed to fit" before model.Params)

[<Test>]
let ``evaluate returns the loss and every metric as computed from predict`` () =
    scoped (fun () ->
        let x, y = blobs 3 20 3.0 1.0 2L
        let model = Model.buildSeeded 3L [ 2L ] blobNet
        let metrics = [ Metric.accuracy; Metric.topK 2; Metric.ofFunction "mean_max_logit" (fun p _ -> p.Amax([| -1L |])) ]
        // 60 samples in batches of 7: the last batch is short, every metric must still be a per-sample mean.
        let ev = Training.evaluateWith Loss.crossEntropy metrics 7 model x (Value.T y)
        expectEqual "names" [ "loss"; "accuracy"; "top2_accuracy"; "mean_max_logit" ] (List.map fst ev)
        let logits = rows (Model.forward model x)
        let labels = y.ToArray<int64>() |> Array.map int
        let n = float labels.Length
        let expLoss = Array.map2 crossEntropyOf logits labels |> Array.average
        let argmax (r: float[]) = Array.findIndex ((=) (Array.max r)) r
        let expAcc = float (Array.map2 (fun r l -> if argmax r = l then 1 else 0) logits labels |> Array.sum) / n
        let expTop2 = float (Array.map2 (fun (r: float[]) l -> if (r |> Array.filter (fun v -> v > r.[l]) |> Array.length) < 2 then 1 else 0) logits labels |> Array.sum) / n
        let expMax = logits |> Array.averageBy Array.max
        let got = Map.ofList ev
        Assert.That(got.["loss"], Is.EqualTo(expLoss).Within(1e-5), "loss")
        Assert.That(got.["accuracy"], Is.EqualTo(expAcc).Within(1e-12), "accuracy")
        Assert.That(got.["top2_accuracy"], Is.EqualTo(expTop2).Within(1e-12), "top-2 accuracy")
        Assert.That(got.["mean_max_logit"], Is.EqualTo(expMax).Within(1e-5), "ofFunction metric")
        // Batch size does not change evaluate's result (beyond float rounding).
        let whole = Training.evaluateWith Loss.crossEntropy metrics 60 model x (Value.T y)
        for (n1, v1), (_, v2) in List.zip ev whole do
            Assert.That(v1, Is.EqualTo(v2).Within(1e-5), sprintf "%s with batch 7 vs 60" n1))

[<Test>]
let ``predict returns one row of class scores per sample, equal to the model's forward`` () =
    scoped (fun () ->
        let x, _ = blobs 3 11 3.0 0.5 4L
        let model = Model.buildSeeded 1L [ 2L ] blobNet
        let out = Training.predict 5 model x |> Value.tensor
        expectEqual "shape" [| 33L; 3L |] out.Shape
        Assert.That(out.Equal(Model.forward model x), "predict by batches of 5 equals one forward pass")
        let heads = Model.buildSeeded 1L [ 2L ] (dense 8 >-> fanOut [ "a", dense 4; "b", dense 1 ])
        match Training.predict 4 heads x with
        | Value.Heads [ ("a", Value.T a); ("b", Value.T b) ] ->
            expectEqual "head a shape" [| 33L; 4L |] a.Shape
            expectEqual "head b shape" [| 33L; 1L |] b.Shape
        | v -> Assert.Fail(sprintf "expected heads a and b, got %A" (Value.shape v)))

[<Test>]
let ``predictTopK and formatTopK name the classes with their probabilities`` () =
    scoped (fun () ->
        let x, y = blobs 3 30 3.0 0.5 1L
        let model = Model.buildSeeded 1L [ 2L ] blobNet
        let t = Training.fit { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 30; BatchSize = 16 } model x (Value.T y)
        // Points far inside each class's region: the trained model is certain.
        let probe = f32 [ 3L; 2L ] (Array.concat [ blobCenter 3 3.0 20.0 1; blobCenter 3 3.0 20.0 0; blobCenter 3 3.0 20.0 2 ])
        let ranked = Training.predictTopK 2 fruit t.Model probe
        expectEqual "top labels" [ "avocado"; "apple"; "banana" ] (ranked |> List.map (fun r -> r.Head.Label))
        for r in ranked do
            Assert.That(r.Length, Is.EqualTo 2)
            Assert.That(r.[0].Probability, Is.GreaterThanOrEqualTo r.[1].Probability, "ranked by probability")
            Assert.That(r.[0].Probability + r.[1].Probability, Is.LessThanOrEqualTo(1.0 + 1e-6))
        let text = Training.formatTopK ranked.Head
        let ls = text.Split('\n')
        Assert.That(ls.Length, Is.EqualTo 2, text)
        Assert.That(ls.[0], Is.EqualTo "#1 avocado @ 100.00%", text)
        Assert.That(Regex.IsMatch(ls.[1], @"^#2 (apple|banana) @ \d+\.\d\d%$"), text)
        // k larger than the number of classes gives every class once, probabilities summing to 1.
        let all = Training.predictTopK 10 fruit t.Model probe
        for r in all do
            expectEqual "every class once" (List.sort fruit) (r |> List.map (fun v -> v.Label) |> List.sort)
            Assert.That(r |> List.sumBy (fun v -> v.Probability), Is.EqualTo(1.0).Within(1e-5)))

[<Test>]
let ``predictTopK rejects a list of class names that does not match the model's classes`` () =
    scoped (fun () ->
        let x, _ = blobs 3 4 3.0 0.5 1L
        let model = Model.buildSeeded 1L [ 2L ] (dense 3)
        for names in [ [ "apple"; "avocado" ]; [ "apple"; "avocado"; "banana"; "cherry" ] ] do
            match (try Training.predictTopK 2 names model x |> ignore; None with e -> Some e) with
            | None -> Assert.Fail(sprintf "%d class names for a 3-class model were accepted" names.Length)
            | Some e ->
                Assert.That(e, Is.InstanceOf<ArgumentException>(), e.Message)
                expectContains (sprintf "%d class names" names.Length) e.Message
                expectContains "3 classes" e.Message)

[<Test>]
let ``formatTopK prints one ranked line per class`` () =
    let text = Training.formatTopK [ { Label = "avocado"; Probability = 1.0 }; { Label = "apple"; Probability = 0.123456 }; { Label = "fig"; Probability = 0.0 } ]
    Assert.That(text, Is.EqualTo "#1 avocado @ 100.00%\n#2 apple @ 12.35%\n#3 fig @ 0.00%")

// ---------------------------------------------------------------- 2. reproducibility

let private reproNet = dense 32 >-> relu >-> dropout 0.3 >-> dense 3

let private reproRun (seed: int64) =
    let x, y = blobs 3 20 2.0 1.0 9L
    let o = { quiet with Optimizer = Optimizers.adam 0.01; Epochs = 4; BatchSize = 8; Shuffle = true; Seed = seed; ValidationSplit = Some 0.25; Metrics = [ Metric.accuracy; Metric.topK 2 ] }
    Training.fit o (Model.buildSeeded 1L [ 2L ] reproNet) x (Value.T y)

let private sameHistory (a: Trained) (b: Trained) =
    a.History.Length = b.History.Length
    && List.forall2 (fun (p: EpochLogs) (q: EpochLogs) -> p.Epoch = q.Epoch && p.Values = q.Values && p.LearningRate = q.LearningRate) a.History b.History

[<Property(MaxTest = 4)>]
let ``the same seed gives a bit-identical history and parameters (shuffle and dropout on)`` () =
    Prop.forAll (Arb.fromGen (Gen.choose (0, 1000))) (fun seed ->
        scoped (fun () ->
            let a, b = reproRun (int64 seed), reproRun (int64 seed)
            for p, q in List.zip a.History b.History do
                ensure (p.Values = q.Values) (sprintf "seed %d epoch %d: %A <> %A" seed p.Epoch p.Values q.Values)
            ensure (sameHistory a b) "histories differ"
            ensure (sameParams a.Model.Params b.Model.Params) "final parameters differ"
            ensure ((List.head a.History).Values |> List.map fst = [ "loss"; "accuracy"; "top2_accuracy"; "val_loss"; "val_accuracy"; "val_top2_accuracy" ]) "logged names"
            true))

[<Test>]
let ``a different seed gives a different history`` () =
    scoped (fun () ->
        let a, b = reproRun 1L, reproRun 2L
        Assert.That(sameHistory a b, Is.False, "seeds 1 and 2 gave the same history")
        Assert.That(logged "loss" a.History.Head, Is.Not.EqualTo(logged "loss" b.History.Head), "first-epoch training loss")
        Assert.That(sameParams a.Model.Params b.Model.Params, Is.False, "seeds 1 and 2 gave the same parameters"))

[<Test>]
let ``dropout uses the seed: without shuffling, seeds still differ, and eval-mode val_loss is unaffected at epoch 0`` () =
    scoped (fun () ->
        let x, y = blobs 3 20 2.0 1.0 9L
        let run seed = Training.fit { quiet with Optimizer = Optimizers.sgd 0.0; Epochs = 1; BatchSize = 8; Shuffle = false; Seed = seed; ValidationSplit = Some 0.25 } (Model.buildSeeded 1L [ 2L ] reproNet) x (Value.T y)
        let a, b = run 1L, run 2L
        // With lr 0 the parameters never change: training loss differs only through the dropout masks,
        // validation (Eval mode, no dropout) is identical.
        Assert.That(logged "loss" a.History.Head, Is.Not.EqualTo(logged "loss" b.History.Head), "dropout masks depend on the seed")
        Assert.That(logged "val_loss" a.History.Head, Is.EqualTo(logged "val_loss" b.History.Head), "validation runs in Eval mode"))

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
            Assert.That(ls.Length, Is.EqualTo 3, sprintf "one line per epoch; output:\n%s" text)
            ls |> List.iteri (fun i l ->
                let m = (epochLine 3).Match l
                Assert.That(m.Success, sprintf "line %d does not match the epoch format: %s" (i + 1) l)
                Assert.That(m.Groups.[1].Value, Is.EqualTo(string (i + 1)), l)
                // The printed values are the history's, rounded to 4 decimals.
                let h = t.History.[i]
                for (name, v) in h.Values do
                    expectContains (sprintf " - %s: %s" name (v.ToString("F4", Globalization.CultureInfo.InvariantCulture))) l))

[<Test>]
let ``Lines prints exactly one Keras-style line per epoch`` () = expectEpochLines Lines

[<Test>]
let ``Auto prints one line per epoch when output is redirected`` () =
    Assume.That(Console.IsOutputRedirected, "stdout of the test host is a terminal")
    Assume.That(Progress.isTerminal (), Is.False)
    expectEpochLines Verbosity.Auto

[<Test>]
let ``Silent prints nothing`` () =
    scoped (fun () ->
        let r, text = progressRun Silent
        Assert.That(Result.isOk r)
        Assert.That(text, Is.Empty))

// ---------------------------------------------------------------- 6. class weights

/// Logits [n; c], labels and class weights (all positive).
type private WeightedCase = { Classes: int; Logits: float[]; Labels: int[]; Weights: float[] }

let private weightedArb =
    let g = gen {
        let! c = Gen.choose (2, 5)
        let! n = Gen.choose (1, 12)
        let! logits = Gen.arrayOfLength (n * c) (genValue -300 300)
        let! labels = Gen.arrayOfLength n (Gen.choose (0, c - 1))
        let! weights = Gen.arrayOfLength c (genValue 10 500)
        return { Classes = c; Logits = logits; Labels = labels; Weights = weights } }
    Arb.fromGen g

let private weightedExpected (c: WeightedCase) =
    let rs = c.Logits |> Array.chunkBySize c.Classes
    let num = Array.map2 (fun r y -> c.Weights.[y] * crossEntropyOf r y) rs c.Labels |> Array.sum
    let den = c.Labels |> Array.sumBy (fun y -> c.Weights.[y])
    num / den

let private weightedLoss (w: float[]) = Loss.crossEntropy.WithClassWeights.Value(f32 [ int64 w.Length ] (Array.map float32 w))

[<Property(MaxTest = 60)>]
let ``weighted cross-entropy is sum w[y]·(−log p[y]) / sum w[y], as PyTorch's`` () =
    Prop.forAll weightedArb (fun c ->
        scoped (fun () ->
            let n = c.Labels.Length
            let model = Model.build [ int64 c.Classes ] identity
            let x = f32 [ int64 n; int64 c.Classes ] (Array.map float32 c.Logits)
            let y = Torch.From<int64>(Array.map int64 c.Labels, [| int64 n |])
            let o = { quiet with Loss = weightedLoss c.Weights; Metrics = []; BatchSize = n }
            let got = Training.evaluate o model x (Value.T y) |> List.head |> snd
            let expected = weightedExpected c
            ensure (abs (got - expected) <= 1e-5 + 1e-5 * abs expected) (sprintf "weighted loss %g, expected %g" got expected)
            let plain = Training.evaluate { o with Loss = Loss.crossEntropy } model x (Value.T y) |> List.head |> snd
            let plainExpected = weightedExpected { c with Weights = Array.create c.Classes 1.0 }
            ensure (abs (plain - plainExpected) <= 1e-5 + 1e-5 * abs plainExpected) (sprintf "plain loss %g, expected %g" plain plainExpected)
            true))

[<Test>]
let ``fit with class weights follows a different trajectory; unit weights follow the same one`` () =
    scoped (fun () ->
        let x, y = blobs 3 20 2.0 1.0 5L
        let run w =
            Training.fit { quiet with Optimizer = Optimizers.adam 0.01; Epochs = 3; BatchSize = 10; ClassWeights = w } (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
        let plain, weighted, ones = run None, run (Some [| 1.0; 8.0; 0.2 |]), run (Some [| 1.0; 1.0; 1.0 |])
        Assert.That(plain.Series "loss", Is.Not.EqualTo(weighted.Series "loss"), "class weights change the loss")
        Assert.That(sameParams plain.Model.Params weighted.Model.Params, Is.False, "class weights change the parameters")
        Assert.That(close 1e-5 1e-5 (Array.ofList (ones.Series "loss")) (Array.ofList (plain.Series "loss")), sprintf "unit weights: %A vs %A" (ones.Series "loss") (plain.Series "loss")))

// ---------------------------------------------------------------- 7. bad input

/// Fits with a spy and Lines output; asserts that fit throws an ArgumentException whose message contains
/// every part, before any callback ran and without printing an epoch line.
let private expectRejected (parts: string list) (o: FitOptions) (model: Model) (x: Tensor) (y: Value) =
    let cb, calls = spy ()
    let r, text = capture (fun () -> Training.fit { o with Callbacks = [ cb ]; Verbosity = Lines } model x y)
    match r with
    | Ok t -> Assert.Fail(sprintf "fit accepted the input (parts %A) and trained %d epochs" parts t.History.Length)
    | Error e ->
        Assert.That(e, Is.InstanceOf<ArgumentException>(), sprintf "%s: %s" (e.GetType().Name) e.Message)
        for p in parts do
            expectContains p e.Message
        Assert.That(List.ofSeq calls, Is.Empty, sprintf "callbacks ran before the error (%s)" e.Message)
        expectNotContains "Epoch" text

let private tenClass () = Model.buildSeeded 1L [ 2L ] (dense 10)

let private someInputs (n: int) : Tensor =
    use g = new Generator(3L)
    Torch.Randn([| int64 n; 2L |], g)

[<Test>]
let ``labels outside [0, classes) are rejected before training`` () =
    scoped (fun () ->
        let x = someInputs 6
        expectRejected [ "labels"; "10 classes"; "10]" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 10L; 1L; 2L |]))
        expectRejected [ "labels"; "10 classes"; "-1" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; -1L; 9L; 5L; 1L; 2L |]))
        // Also in one head of a multi-head model.
        let heads = Model.buildSeeded 1L [ 2L ] (fanOut [ "hour", dense 12; "minute", dense 60 ])
        let o = { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0; "minute", Loss.crossEntropy, 1.0 ]; Metrics = [] }
        expectRejected [ "labels"; "60 classes" ] o heads x (Value.Heads [ "hour", Value.T(labelsOf [| 0L; 1L; 2L; 3L; 4L; 11L |]); "minute", Value.T(labelsOf [| 0L; 1L; 2L; 3L; 4L; 60L |]) ]))

[<Test>]
let ``validation labels outside [0, classes) are rejected before training`` () =
    scoped (fun () ->
        let x = someInputs 6
        let y = labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        let o = { quiet with ValidationData = Some(someInputs 3, Value.T(labelsOf [| 0L; 10L; 1L |])) }
        expectRejected [ "10 classes" ] o (tenClass ()) x (Value.T y))

[<Test>]
let ``batch size 0 and -1 are rejected before training`` () =
    scoped (fun () ->
        let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        for b in [ 0; -1 ] do
            expectRejected [ "batch size"; string b ] { quiet with BatchSize = b } (tenClass ()) x (Value.T y)
        Assert.Throws<ArgumentException>(fun () -> Training.evaluateWith Loss.crossEntropy [] 0 (tenClass ()) x (Value.T y) |> ignore) |> ignore
        Assert.Throws<ArgumentException>(fun () -> Training.predict 0 (tenClass ()) x |> ignore) |> ignore)

[<Test>]
let ``validation splits 0, 1 and 1.5 are rejected before training`` () =
    scoped (fun () ->
        let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        for s in [ 0.0; 1.0; 1.5; -0.2 ] do
            expectRejected [ "validation split"; string s ] { quiet with ValidationSplit = Some s } (tenClass ()) x (Value.T y)
        // A split that leaves no validation sample.
        expectRejected [ "split" ] { quiet with ValidationSplit = Some 0.1 } (tenClass ()) x (Value.T y))

[<Test>]
let ``metrics that need another output shape are rejected before training`` () =
    scoped (fun () ->
        let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        expectRejected [ "binary_accuracy"; "(None, 10)" ] { quiet with Metrics = [ Metric.binaryAccuracy ] } (tenClass ()) x (Value.T y)
        let three = Model.buildSeeded 1L [ 2L ] (dense 3)
        expectRejected [ "top5_accuracy"; "5"; "(None, 3)" ] { quiet with Metrics = [ Metric.topK 5 ] } three x (Value.T(labelsOf [| 0L; 1L; 2L; 0L; 1L; 2L |])))

[<Test>]
let ``regression metrics on class scores with int labels are rejected before training`` () =
    // rmse/mae compare outputs with targets of the same shape; (None, 10) scores against (None) labels
    // cannot be compared, which is known before the first step.
    scoped (fun () ->
        let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        expectRejected [ "mae" ] { quiet with Metrics = [ Metric.mae ] } (tenClass ()) x (Value.T y))

[<Test>]
let ``class weights of the wrong length are rejected before training`` () =
    scoped (fun () ->
        let x, y = someInputs 6, labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |]
        expectRejected [ "3 class weights"; "10 classes" ] { quiet with ClassWeights = Some [| 1.0; 2.0; 3.0 |] } (tenClass ()) x (Value.T y)
        expectRejected [ "class weights"; "mse" ] { quiet with Loss = Loss.mse; Metrics = []; ClassWeights = Some(Array.create 10 1.0) } (tenClass ()) x (Value.T(f32 [ 6L; 10L ] (Array.zeroCreate 60))))

[<Test>]
let ``inputs and targets of different lengths, and zero epochs, are rejected before training`` () =
    scoped (fun () ->
        let x = someInputs 6
        expectRejected [ "6 inputs"; "5 targets" ] quiet (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 5L; 1L |]))
        expectRejected [ "epochs" ] { quiet with Epochs = 0 } (tenClass ()) x (Value.T(labelsOf [| 0L; 3L; 9L; 5L; 1L; 2L |])))

// ---------------------------------------------------------------- 10. learning-rate finder

[<Test>]
let ``findLearningRate returns an increasing curve within [minLr, maxLr], a suggestion inside it, and leaves the model alone`` () =
    scoped (fun () ->
        let x, y = blobs 3 40 3.0 0.7 6L
        let model = Model.buildSeeded 1L [ 2L ] blobNet
        let before = Params.clone model.Params
        let minLr, maxLr = 1e-4, 1.0
        let r = Training.findLearningRate { quiet with Optimizer = Optimizers.sgd 0.1; BatchSize = 16 } minLr maxLr 60 model x (Value.T y)
        Assert.That(r.Curve.Length, Is.GreaterThanOrEqualTo 3)
        Assert.That(r.Curve.Length, Is.LessThanOrEqualTo 60)
        let lrs = r.Curve |> List.map fst
        Assert.That(lrs.Head, Is.EqualTo(minLr).Within(1e-12))
        for a, b in List.pairwise lrs do
            Assert.That(b, Is.GreaterThan a, "learning rates increase")
        Assert.That(List.last lrs, Is.LessThanOrEqualTo(maxLr * (1.0 + 1e-9)))
        Assert.That(r.Curve |> List.forall (fun (_, l) -> Double.IsFinite l || Double.IsNaN l))
        Assert.That(r.Suggested, Is.InRange(minLr, maxLr))
        Assert.That(lrs |> List.contains r.Suggested, "the suggestion is a rate of the curve")
        expectSameParams "findLearningRate's model" before model.Params)

[<Test>]
let ``findLearningRate works when the loss falls far below its starting value`` () =
    // An easy problem: the smoothed loss drops by far more than half from its first value.
    scoped (fun () ->
        let x, y = blobs 2 40 4.0 0.3 6L
        let model = Model.buildSeeded 1L [ 2L ] (dense 16 >-> relu >-> dense 2)
        let r = Training.findLearningRate { quiet with Optimizer = Optimizers.adam 1e-3; BatchSize = 8 } 1e-3 1.0 100 model x (Value.T y)
        let losses = r.Curve |> List.map snd
        Assert.That(List.min losses, Is.LessThan(List.head losses / 2.0), "the loss falls well below its start")
        Assert.That(r.Suggested, Is.InRange(1e-3, 1.0)))

// ---------------------------------------------------------------- 11. multi-head

[<Test>]
let ``a two-head model trains with perHead losses and per-head metrics`` () =
    scoped (fun () ->
        let x, hours, minutes = clock 120
        let y = Value.Heads [ "hour", Value.T(labelsOf hours); "minute", Value.T(labelsOf minutes) ]
        let net = dense 32 >-> relu >-> fanOut [ "hour", dense 12; "minute", dense 60 ]
        let model = Model.buildSeeded 1L [ 4L ] net
        let loss = Loss.perHead [ "hour", Loss.crossEntropy, 6.0; "minute", Loss.crossEntropy, 4.0 ]
        let metrics = [ Metric.onHead "hour" Metric.accuracy; Metric.onHead "minute" Metric.accuracy; Metric.onHead "minute" (Metric.topK 5) ]
        let o = { quiet with Loss = loss; Metrics = metrics; Optimizer = Optimizers.adam 0.01; Epochs = 25; BatchSize = 16; ValidationSplit = Some 0.2 }
        let t = Training.fit o model x y
        expectEqual "logged names"
            [ "loss"; "hour_accuracy"; "minute_accuracy"; "minute_top5_accuracy"; "val_loss"; "val_hour_accuracy"; "val_minute_accuracy"; "val_minute_top5_accuracy" ]
            (t.History.Head.Values |> List.map fst)
        Assert.That(logged "loss" (List.last t.History), Is.LessThan(logged "loss" t.History.Head / 2.0), "the loss fell")
        Assert.That(logged "hour_accuracy" (List.last t.History), Is.GreaterThan 0.9, "the hour is easy to learn")
        // evaluate's loss is 6·CE(hour) + 4·CE(minute) on the batch; the metrics are per head.
        let ev = Training.evaluate { o with BatchSize = 120 } t.Model x y |> Map.ofList
        let out = Model.forwardValue t.Model x
        let hl, ml = rows (Value.tensor (Value.head "hour" out)), rows (Value.tensor (Value.head "minute" out))
        let ceH = Array.map2 crossEntropyOf hl (Array.map int hours) |> Array.average
        let ceM = Array.map2 crossEntropyOf ml (Array.map int minutes) |> Array.average
        Assert.That(ev.["loss"], Is.EqualTo(6.0 * ceH + 4.0 * ceM).Within(1e-4 * (6.0 * ceH + 4.0 * ceM) + 1e-6), "6·CE_hour + 4·CE_minute")
        let acc (rs: float[][]) (ls: int64[]) = float (Array.map2 (fun (r: float[]) l -> if Array.findIndex ((=) (Array.max r)) r = int l then 1 else 0) rs ls |> Array.sum) / float ls.Length
        Assert.That(ev.["hour_accuracy"], Is.EqualTo(acc hl hours).Within(1e-12))
        Assert.That(ev.["minute_accuracy"], Is.EqualTo(acc ml minutes).Within(1e-12)))

[<Test>]
let ``perHead and onHead reject models without the named head`` () =
    scoped (fun () ->
        let x, hours, minutes = clock 12
        let y = Value.Heads [ "hour", Value.T(labelsOf hours); "minute", Value.T(labelsOf minutes) ]
        let model = Model.buildSeeded 1L [ 4L ] (fanOut [ "hour", dense 12; "minute", dense 60 ])
        expectRejected [ "second" ] { quiet with Loss = Loss.perHead [ "second", Loss.crossEntropy, 1.0 ]; Metrics = [] } model x y
        expectRejected [ "second" ] { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0 ]; Metrics = [ Metric.onHead "second" Metric.accuracy ] } model x y
        let single = Model.buildSeeded 1L [ 4L ] (dense 12)
        expectRejected [ "multi-head" ] { quiet with Loss = Loss.perHead [ "hour", Loss.crossEntropy, 1.0 ]; Metrics = [] } single x (Value.T(labelsOf hours)))

// ---------------------------------------------------------------- augmentation through fit's loader

[<Test>]
let ``fit applies Augment to every training batch once and never to validation data`` () =
    scoped (fun () ->
        let x, y = blobs 3 30 3.0 0.5 4L          // 90 samples; a split of 0.2 leaves 72 for training
        let seen = Collections.Concurrent.ConcurrentQueue<int64>()
        let record = Data.Transform.FromFunc((fun t -> seen.Enqueue(t.Size 0); t.Clone()), "record")
        let o = { quiet with Epochs = 3; BatchSize = 16; ValidationSplit = Some 0.2; Augment = Some record }
        Training.fit o (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y) |> ignore
        expectEqual "batch sizes the augmentation saw (3 epochs of 72 = 4 × 16 + 8)" (List.replicate 3 [ 16L; 16L; 16L; 16L; 8L ] |> List.concat) (List.ofSeq seen))

[<Test>]
let ``fit trains on the augmented inputs`` () =
    scoped (fun () ->
        let x, y = blobs 3 30 3.0 0.5 5L
        let o = { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 20; BatchSize = 16 }
        let plain = Training.fit o (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
        Assert.That(logged "accuracy" (List.last plain.History), Is.EqualTo 1.0, "the blobs are separable")
        // With every input erased the model only sees labels: it cannot beat the majority class (1/3).
        let erased = Training.fit { o with Augment = Some(Data.Transform.FromFunc(fun t -> Torch.ZerosLike t)) } (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)
        Assert.That(logged "accuracy" (List.last erased.History), Is.LessThanOrEqualTo(0.4), "trained on erased inputs"))

[<Test>]
let ``a random augmentation gives a bit-identical history from the same seed and another from a different seed`` () =
    scoped (fun () ->
        let x, y = blobs 3 30 3.0 1.0 6L
        let noisy = Data.GaussianNoise(0.5)
        let run seed = (Training.fit { quiet with Epochs = 3; BatchSize = 16; Seed = seed; Augment = Some(noisy :> Data.Transform) } (Model.buildSeeded 1L [ 2L ] blobNet) x (Value.T y)).History |> List.map (logged "loss")
        expectEqual "same seed" (run 3L) (run 3L)
        Assert.That(run 4L, Is.Not.EqualTo(run 3L), "another seed draws other noise (and another order)"))
