/// Presets.keras beside Presets.pytorch: the optimizers' steps against torch.optim trajectories with Keras's
/// hyper-parameters (tests/fixtures/optim.json, cases *_keras), the initialisers and batch norm's momentum; and the
/// L1/L2 penalties: their gradient, and the reported loss including them as Keras reports it.
module Dsl.Tests.Presets

open System.IO
open System.Text.Json
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private optim = lazy (JsonDocument.Parse(File.ReadAllText(Path.Combine(System.AppContext.BaseDirectory, "fixtures", "optim.json"))).RootElement)

let private tensorOf (e: JsonElement) =
    let shape = [ for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt64() ]
    f32 shape [| for v in e.GetProperty("data").EnumerateArray() -> float32 (v.GetDouble()) |]

/// Runs the fixture's problem (loss = Σ(xW + b − t)² + 0.1·ΣW³, five steps) with `spec` and returns the largest
/// relative difference from torch.optim's parameters over the steps.
let private trajectoryGap (case: string) (spec: OptimizerSpec) =
    let root = optim.Force()
    let p = root.GetProperty "problem"
    let c = root.GetProperty("optim_cases").EnumerateArray() |> Seq.find (fun c -> c.GetProperty("name").GetString() = case)
    scoped (fun () ->
        let x, t = tensorOf (p.GetProperty "x"), tensorOf (p.GetProperty "t")
        let w, b = tensorOf (p.GetProperty "W0"), tensorOf (p.GetProperty "b0")
        w.RequiresGrad <- true
        b.RequiresGrad <- true
        use opt = spec.Create [ w; b ]
        [
            for step in c.GetProperty("params").EnumerateArray() do
                opt.ZeroGrad()
                let loss = ((x.Matmul w + b - t).Square().Sum()) + 0.1 * (w ** 3.0).Sum()
                loss.Backward()
                opt.Step()
                let expected = [ for e in step.EnumerateArray() -> values (tensorOf e) ]
                for got, want in List.zip [ values w; values b ] expected do
                    yield Array.map2 (fun g e -> abs (g - e) / max 1.0 (abs e)) got want |> Array.max
        ]
        |> List.max)

/// The case's learning rate.
let private lrOf (case: string) =
    optim.Force().GetProperty("optim_cases").EnumerateArray()
    |> Seq.find (fun c -> c.GetProperty("name").GetString() = case)
    |> fun c -> c.GetProperty("options").GetProperty("lr").GetDouble()

/// This module's tests, the Expecto list "Presets".
[<Tests>]
let tests =
    testList "Presets" [
        testCase "Presets.keras's RMSprop, Adam and Adadelta step as torch.optim with Keras's hyper-parameters (≤ 1e-5)"
        <| fun () ->
            for case, spec in [ "rmsprop_keras", Presets.keras.Rmsprop; "adam_keras", Presets.keras.Adam; "adadelta_keras", Presets.keras.Adadelta ] do
                let gap = trajectoryGap case (spec (lrOf case))
                Expect.isLessThanOrEqual gap 1e-5 (sprintf "%s: max relative difference %g" case gap)
            // PyTorch's defaults follow another trajectory (ρ 0.99 against Keras's 0.9; Adadelta ρ 0.9, ε 1e-6).
            for case, spec in [ "rmsprop_keras", Presets.pytorch.Rmsprop; "adadelta_keras", Presets.pytorch.Adadelta ] do
                let gap = trajectoryGap case (spec (lrOf case))
                Expect.isGreaterThan gap 1e-4 (sprintf "%s with PyTorch's defaults differs (%g)" case gap)

        testCase "Presets.keras initialises kernels glorot-uniform and biases to zero, PyTorch's preset does not"
        <| fun () ->
            scoped (fun () ->
                let net (p: Preset) = serial [ Presets.conv2d p 8 3; relu; flatten; Presets.dense p 10 ]
                let keras = Model.buildSeeded 4L [ 3L; 6L; 6L ] (net Presets.keras)
                let torch = Model.buildSeeded 4L [ 3L; 6L; 6L ] (net Presets.pytorch)
                let byPath (m: Model) = Tree.toList m.Params |> List.map (fun (p, t) -> p, values t)
                for (path, v), (_, tv) in List.zip (byPath keras) (byPath torch) do
                    if path.EndsWith "bias" then
                        Expect.allEqual v 0.0 (sprintf "%s is zero" path)
                        Expect.isTrue (tv |> Array.exists ((<>) 0.0)) "PyTorch's biases are not zero"
                    else
                        // conv: fan_in 3·3·3 = 27, fan_out 8·3·3 = 72; dense: 8·4·4 = 128 in, 10 out
                        let fanIn, fanOut = if v.Length = 8 * 27 then 27.0, 72.0 else 128.0, 10.0
                        let bound = sqrt (6.0 / (fanIn + fanOut))
                        let top = v |> Array.map abs |> Array.max
                        Expect.isLessThanOrEqual top bound (sprintf "%s within ±%g" path bound)
                        Expect.isGreaterThan top (0.9 * bound) (sprintf "%s fills its range (max %g of %g)" path top bound)
                        // uniform on ±bound has variance bound²/3
                        let var = (v |> Array.sumBy (fun a -> a * a)) / float v.Length
                        Expect.floatClose { absolute = 0.0; relative = 0.25 } var (bound * bound / 3.0) (sprintf "%s variance" path))

        testCase "Presets.keras's batch norm keeps 99% of its running mean per step (momentum 0.99) and uses eps 1e-3"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildSeeded 1L [ 2L ] (Presets.batchNorm Presets.keras)
                let x = f32 [ 4L; 2L ] [| 1.0f; 10.0f; 3.0f; 20.0f; 5.0f; 30.0f; 7.0f; 40.0f |]
                let y, state = Model.applyWith m m.Params m.State Train (Rng.seed 0L) (Value.T x)
                let mean = Tree.toList state |> List.find (fun (p, _) -> p.EndsWith "running_mean") |> snd |> values
                Expect.isTrue (close 1e-6 1e-6 mean [| 0.01 * 4.0; 0.01 * 25.0 |]) (sprintf "running mean %A = 0.01 × batch mean" mean)
                // train mode normalises with the batch's biased variance plus eps 1e-3: column 0 has variance 5
                let z = values (Value.tensor y)
                Expect.floatClose Accuracy.medium z.[0] ((1.0 - 4.0) / sqrt (5.0 + 1e-3)) "eps 1e-3"
                Expect.equal Presets.pytorch.BatchNorm.Momentum 0.1 "PyTorch's momentum")

        testCase "the reported loss includes the L2 penalty, as Keras reports it: fit's loss and val_loss, evaluate"
        <| fun () ->
            let x, y = blobs 3 10 2.0 0.5 2L
            scoped (fun () ->
                let model = Model.buildSeeded 3L [ 2L ] (dense 8 >-> relu >-> dense 3)
                let o = {
                    quiet with
                        Optimizer = Optimizers.sgd 0.0
                        Epochs = 1
                        BatchSize = 30
                        Shuffle = false
                        ValidationData = Some(DataSource.Tensors(x, Value.T y))
                        Penalties = [ Penalty.l2 0.1 ]
                }
                let data = (Training.evaluateWith o.Loss [] 30 model x (Value.T y)).["loss"]
                let kernels = Tree.toList model.Params |> List.filter (fst >> Penalty.isKernel)
                Expect.equal (kernels |> List.map fst |> List.length) 2 "the two dense kernels, not the biases"
                let penalty = 0.1 * (kernels |> List.sumBy (fun (_, w) -> values w |> Array.sumBy (fun v -> v * v)))
                let trained = Training.fit o model x (Value.T y)
                let logs = List.exactlyOne trained.History
                Expect.floatClose Accuracy.medium (logs.TryGet "loss").Value (data + penalty) "loss = data loss + 0.1·Σw²"
                Expect.floatClose Accuracy.medium (logs.TryGet "val_loss").Value (data + penalty) "val_loss too"
                Expect.floatClose Accuracy.medium (Training.evaluate o model x (Value.T y)).["loss"] (data + penalty) "evaluate with the options"
                Expect.floatClose Accuracy.medium (Training.evaluate { o with Penalties = [] } model x (Value.T y)).["loss"] data "without penalties: the data loss"
                Model.dispose trained.Model)
            x.Dispose()
            y.Dispose()

        testCase "an L1 penalty adds a·sign(w) to every kernel's gradient and leaves the biases alone"
        <| fun () ->
            let x, y = blobs 2 8 2.0 0.5 5L
            scoped (fun () ->
                let model = Model.buildSeeded 6L [ 2L ] (dense 4 >-> tanhLayer >-> dense 2)
                let o = { quiet with Optimizer = Optimizers.sgd 0.5; Epochs = 1; BatchSize = 16; Shuffle = false }
                let plain = Training.fit o model x (Value.T y)
                let l1 = Training.fit { o with Penalties = [ Penalty.l1 0.01 ] } model x (Value.T y)
                for (path, w0), (_, a), (_, b) in List.zip3 (Tree.toList model.Params) (Tree.toList plain.Model.Params) (Tree.toList l1.Model.Params) do
                    let expected = if Penalty.isKernel path then values w0 |> Array.map (fun w -> -0.5 * 0.01 * float (sign w)) else Array.zeroCreate (int w0.Numel)
                    let diff = Array.map2 (-) (values b) (values a)
                    Expect.isLessThanOrEqual (maxAbsDiff diff expected) 1e-6 (sprintf "%s: w_L1 − w = −η·a·sign(w)" path))
            x.Dispose()
            y.Dispose()
    ]
