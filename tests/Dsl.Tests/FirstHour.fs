/// A newcomer's mistakes, each caught before the first step with a message that says what the model expects,
/// what it got and the fix; multi-head defaults; what F# interactive shows; evaluate's results by name.
module Dsl.Tests.FirstHour

open System
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

let private cnn () = Model.build [ 1L; 28L; 28L ] (serial [ conv2d 4 3; relu; maxPool 2; flatten; dense 10 ])
let private quiet = { FitOptions.Default with Epochs = 1; BatchSize = 16; Verbosity = Silent }
let private images n = Torch.Randn [| n; 1L; 28L; 28L |]
let private labels n = Torch.Randint(0L, 10L, [| n |])

/// A callback that records whether any training batch began: the checks must come before the first step.
let private stepWatch () =
    let mutable stepped = false
    { Callback.create "watch" with OnTrainBatchBegin = fun _ _ -> stepped <- true }, (fun () -> stepped)

/// Runs fit expecting an ArgumentException before any step; returns its message.
let private failsBeforeFirstStep (o: FitOptions) (model: Model) (x: Tensor) (y: Value) : string =
    let watch, stepped = stepWatch ()
    let e = expectCatch (fun () -> Training.fit { o with Callbacks = watch :: o.Callbacks } model x y |> ignore)
    if not (e :? ArgumentException) then failtestf "expected an ArgumentException, got %s: %s" (e.GetType().Name) e.Message
    if stepped () then failtest "a training step ran before the error"
    e.Message

let private twoHeads () = Model.build [ 1L; 28L; 28L ] (flatten >-> dense 16 >-> relu >-> fanOut [ "a", dense 3; "b", dense 4 ])
let private headsLoss = Loss.perHead [ "a", Loss.crossEntropy, 1.0; "b", Loss.crossEntropy, 1.0 ]

/// This module's tests, the Expecto list "FirstHour".
[<Tests>]
let tests =
    testList "FirstHour" [
        test "a missing channel dimension names the expected and found shapes and Unsqueeze(1)" {
            scoped (fun () ->
                let m = failsBeforeFirstStep quiet (cnn ()) (Torch.Randn [| 32L; 28L; 28L |]) (Value.T(labels 32L))
                expectContains "expected shape=(None, 1, 28, 28), found shape=(32, 28, 28)" m
                expectContains "The channel dimension is missing" m
                expectContains "x.Unsqueeze(1L) gives (32, 1, 28, 28)" m)
        }
        test "images of the wrong size name both sizes and the two fixes, not 'add flatten'" {
            scoped (fun () ->
                let m = failsBeforeFirstStep quiet (cnn ()) (Torch.Randn [| 32L; 1L; 32L; 32L |]) (Value.T(labels 32L))
                expectContains "The images are 32×32 but the model was built for 28×28" m
                expectContains "Model.build [ 1L; 32L; 32L ]" m
                expectNotContains "flatten" m)
        }
        test "uint8 images say to convert and scale" {
            scoped (fun () ->
                let x = Torch.Randint(0L, 255L, [| 32L; 1L; 28L; 28L |]).To(DType.UInt8)
                let m = failsBeforeFirstStep quiet (cnn ()) x (Value.T(labels 32L))
                expectContains "the model computes in float32, but x is uint8" m
                expectContains "x.To(DType.Float32) / 255.0" m)
        }
        test "float labels for cross-entropy say to convert to int64" {
            scoped (fun () ->
                let m = failsBeforeFirstStep quiet (cnn ()) (images 32L) (Value.T((labels 32L).To(DType.Float32)))
                expectContains "cross_entropy needs int64 class labels" m
                expectContains "y.To(DType.Int64)" m
                expectNotContains "To(DType.Float32)" m)
        }
        test "a single target for a two-head model shows Value.Heads with the model's head names" {
            scoped (fun () ->
                let m = failsBeforeFirstStep { quiet with Loss = headsLoss } (twoHeads ()) (images 32L) (Value.T(Torch.Randint(0L, 3L, [| 32L |])))
                expectContains "the model has heads a (None, 3), b (None, 4)" m
                expectContains "a single tensor of shape (32)" m
                expectContains "Value.Heads [ \"a\", Value.T ya; \"b\", Value.T yb ]" m)
        }
        test "a single-output loss for a two-head model shows Loss.perHead" {
            scoped (fun () ->
                let y = Value.Heads [ "a", Value.T(Torch.Randint(0L, 3L, [| 32L |])); "b", Value.T(Torch.Randint(0L, 4L, [| 32L |])) ]
                let m = failsBeforeFirstStep quiet (twoHeads ()) (images 32L) y
                expectContains "Loss.perHead [ \"a\", Loss.crossEntropy, 1.0; \"b\", Loss.crossEntropy, 1.0 ]" m)
        }
        test "a typo'd monitor suggests the logged name before the first epoch" {
            scoped (fun () ->
                let stop = Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_acuracy"; Patience = 2 }
                let o = { quiet with ValidationSplit = Some 0.25; Callbacks = [ stop ] }
                let m = failsBeforeFirstStep o (cnn ()) (images 32L) (Value.T(labels 32L))
                expectContains "EarlyStopping monitors 'val_acuracy'" m
                expectContains "Did you mean 'val_accuracy'?" m)
        }
        test "monitoring val_loss without validation data says how to add it" {
            scoped (fun () ->
                let plateau = Callback.reduceLROnPlateau ReduceLROnPlateau.Default
                let m = failsBeforeFirstStep { quiet with Callbacks = [ plateau ] } (cnn ()) (images 32L) (Value.T(labels 32L))
                expectContains "ReduceLROnPlateau monitors 'val_loss'" m
                expectContains "There is no validation data: set ValidationSplit" m)
        }
        test "a checkpoint path template is checked like a monitor" {
            scoped (fun () ->
                let ck = Callback.modelCheckpoint { ModelCheckpoint.Default with Path = IO.Path.Combine(IO.Path.GetTempPath(), "dsl-e{epoch}-{val_los:.2f}") }
                let m = failsBeforeFirstStep { quiet with ValidationSplit = Some 0.25; Callbacks = [ ck ] } (cnn ()) (images 32L) (Value.T(labels 32L))
                expectContains "Did you mean 'val_loss'?" m)
        }
        test "1-based labels get the y - 1L hint" {
            scoped (fun () ->
                let y = Torch.From(Array.init 32 (fun i -> int64 (i % 10) + 1L), 32L)
                let m = failsBeforeFirstStep quiet (cnn ()) (images 32L) (Value.T y)
                expectContains "labels range over [1, 10] but the model has 10 classes" m
                expectContains "y - 1L" m)
        }
        test "predict and evaluate check their inputs too" {
            scoped (fun () ->
                let model = cnn ()
                let e = expectThrows<ArgumentException>(fun () -> Training.predict 8 model (Torch.Randn [| 4L; 28L; 28L |]) |> ignore)
                expectContains "predict: the inputs do not fit the model" e.Message
                let e = expectThrows<ArgumentException>(fun () -> Training.evaluate quiet model (Torch.Randn [| 4L; 28L; 28L; 1L |]) (Value.T(labels 4L)) |> ignore)
                expectContains "channels-last" e.Message
                expectContains "x.Permute([| 0L; 3L; 1L; 2L |])" e.Message
                let e = expectThrows<ArgumentException>(fun () -> Training.predict 8 model (Torch.Randn [| 1L; 28L; 28L |]) |> ignore)
                expectContains "x.Unsqueeze(" e.Message
                let e = expectThrows<ArgumentException>(fun () -> Training.predict 8 model (Torch.Randn([| 4L; 1L; 28L; 28L |], dtype = DType.Float64)) |> ignore)
                expectContains "the model's parameters are float32, but x is float64" e.Message)
        }
        test "flat pixels for a CNN get the Reshape fix" {
            scoped (fun () ->
                let e = expectThrows<ArgumentException>(fun () -> Training.predict 8 (cnn ()) (Torch.Randn [| 4L; 784L |]) |> ignore)
                expectContains "x.Reshape([| -1L; 1L; 28L; 28L |])" e.Message)
        }
        test "an embedding model takes int64 indices and refuses floats" {
            scoped (fun () ->
                let model = Model.build [ 5L ] (embedding 20 4 >-> flatten >-> dense 2)
                let out = Training.predict 8 model (Torch.Randint(0L, 20L, [| 3L; 5L |])) |> Value.tensor
                expectEqual "output shape" [| 3L; 2L |] out.Shape
                let e = expectThrows<ArgumentException>(fun () -> Training.predict 8 model (Torch.Randn [| 3L; 5L |]) |> ignore)
                expectContains "x.To(DType.Int64)" e.Message)
        }
        test "softmax before a logits loss is a warning; mse after softmax is not" {
            scoped (fun () ->
                let soft = Model.build [ 4L ] (dense 8 >-> relu >-> dense 3 >-> softmax)
                match Inputs.warnings Loss.crossEntropy soft with
                | [ w ] ->
                    expectContains "the model ends in softmax" w
                    expectContains "takes logits" w
                | ws -> failtestf "expected one warning, got %A" ws
                let viaOption = Model.build [ 4L ] (denseWith { DenseOptions.Default with Activation = Some Activation.softmax } 3)
                expectEqual "dense(activation=softmax) warns" 1 (Inputs.warnings Loss.crossEntropy viaOption).Length
                expectEqual "mse after softmax" [] (Inputs.warnings Loss.mse soft)
                expectEqual "logits" [] (Inputs.warnings Loss.crossEntropy (Model.build [ 4L ] (dense 3)))
                let heads = Model.build [ 4L ] (dense 8 >-> fanOut [ "a", dense 3 >-> softmax; "b", dense 2 ])
                match Inputs.warnings headsLoss heads with
                | [ w ] -> expectContains "the head 'a' ends in softmax" w
                | ws -> failtestf "expected one warning for head a, got %A" ws
                // fit prints it to standard error and trains.
                let err = new IO.StringWriter()
                let old = Console.Error
                Console.SetError err
                try
                    Training.fit quiet soft (Torch.Randn [| 16L; 4L |]) (Value.T(Torch.Randint(0L, 3L, [| 16L |]))) |> ignore
                finally
                    Console.SetError old
                expectContains "fit: warning: the model ends in softmax" (err.ToString()))
        }
        test "the default metrics of a two-head model are each classification head's accuracy" {
            scoped (fun () ->
                let model = Model.build [ 1L; 28L; 28L ] (flatten >-> dense 16 >-> relu >-> fanOut [ "a", dense 3; "b", dense 4; "r", dense 1 ])
                let loss = Loss.perHead [ "a", Loss.crossEntropy, 1.0; "b", Loss.crossEntropy, 1.0; "r", Loss.mse, 1.0 ]
                let y = Value.Heads [ "a", Value.T(Torch.Randint(0L, 3L, [| 32L |])); "b", Value.T(Torch.Randint(0L, 4L, [| 32L |])); "r", Value.T(Torch.Randn [| 32L; 1L |]) ]
                let t = Training.fit { quiet with Loss = loss; ValidationSplit = Some 0.25 } model (images 32L) y
                expectEqual "logged" [ "loss"; "a_accuracy"; "b_accuracy"; "val_loss"; "val_a_accuracy"; "val_b_accuracy" ] (List.map fst (List.last t.History).Values)
                let ev =
                    Training.evaluate
                        { quiet with Loss = loss }
                        t.Model
                        (images 8L)
                        (Value.Heads [ "a", Value.T(Torch.Randint(0L, 3L, [| 8L |])); "b", Value.T(Torch.Randint(0L, 4L, [| 8L |])); "r", Value.T(Torch.Randn [| 8L; 1L |]) ])
                expectEqual "evaluate names" [ "loss"; "a_accuracy"; "b_accuracy" ] ev.Names
                expectInRange 0.0 1.0 ev.["b_accuracy"] "an accuracy"
                // Heads that do not classify get no default metric.
                let reg = Model.build [ 4L ] (dense 8 >-> fanOut [ "u", dense 1; "v", dense 2 ])
                let ry = Value.Heads [ "u", Value.T(Torch.Randn [| 8L; 1L |]); "v", Value.T(Torch.Randn [| 8L; 2L |]) ]
                let rev = Training.evaluate { quiet with Loss = Loss.perHead [ "u", Loss.mse, 1.0; "v", Loss.mse, 1.0 ] } reg (Torch.Randn [| 8L; 4L |]) ry
                expectEqual "regression heads" [ "loss" ] rev.Names)
        }
        test "evaluate's results index by name and name the metrics on a miss" {
            scoped (fun () ->
                let model = cnn ()
                let ev = Training.evaluate quiet model (images 16L) (Value.T(labels 16L))
                expectEqual "names" [ "loss"; "accuracy" ] ev.Names
                expectEqual "indexer" (snd ev.Values.[1]) ev.["accuracy"]
                let e = expectThrows<Collections.Generic.KeyNotFoundException>(fun () -> ev.["acc"] |> ignore)
                expectContains "the evaluation holds loss, accuracy" e.Message)
        }
        test "Model.forward does not record autograd, and a trained model's summary rows hold its trained tensors" {
            scoped (fun () ->
                let model = cnn ()
                let y = Model.forward model (images 2L)
                Expect.isFalse y.RequiresGrad "forward output requires no grad"
                let t = Training.fit quiet model (images 32L) (Value.T(labels 32L))
                let rec infoLeaves (i: LayerInfo) = Tree.leaves i.Params @ List.collect infoLeaves i.Children
                let shown = infoLeaves t.Model.Info
                let trained = Tree.leaves t.Model.Params
                Expect.isTrue (List.forall2 (fun a b -> Object.ReferenceEquals(a, b)) (Tree.leaves t.Model.Info.Params) trained) "the summary's root holds the trained tensors"
                for s in shown do
                    Expect.isTrue (trained |> List.exists (fun p -> Object.ReferenceEquals(p, s))) "a summary tensor is a trained parameter"
                Model.dispose t.Model)
        }
        test "F# interactive shows a model, its parameters and a fit in a few lines" {
            scoped (fun () ->
                let model = cnn ()
                let text = Display.model model
                expectContains "Model \"sequential\": (None, 1, 28, 28) → (None, 10), 6,810 parameters (6,810 trainable)" text
                expectContains "conv2d (Conv2D)" text
                Expect.isLessThan (text.Split('\n').Length) 10 "a short model text"
                let ps = Display.parameters model.Params
                expectContains "Params: 4 tensors, 6,810 values" ps
                expectContains "dense.weight" ps
                expectContains "[10, 676] float32" ps
                let t = Training.fit quiet model (images 16L) (Value.T(labels 16L))
                let tr = Display.trained t
                expectContains "Trained: 1 epoch in" tr
                expectContains "last epoch: loss " tr
                expectContains "accuracy " tr
                expectContains "Layer Sequential of 5" (Display.layer (serial [ conv2d 4 3; relu; maxPool 2; flatten; dense 10 ])))
        }
    ]
