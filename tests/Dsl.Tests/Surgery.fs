/// Model surgery and transfer learning: `Model.replace` (kept tensors, seeded new parts, re-inferred shapes, paths
/// that do not exist), freezing zoo models by pattern, parameter groups with their own learning rates (one SGD step
/// exact, schedules, checkpoints), frozen batch norm in inference mode, and the summary's Trainable column.
module Dsl.Tests.Surgery

open System
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Engine.Optim
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

/// A small VGG-like model: features (two convolutions), flatten, a two-layer classifier.
let private vggLike (classifier: Layer) =
    serial [
        named "features" (serial [ named "0" (conv2d 4 3); named "1" relu; named "2" (maxPool 2); named "3" (conv2d 6 3); named "4" relu ])
        named "flatten" flatten
        named "classifier" classifier
    ]

let private head10 = serial [ named "0" (dense 16); named "1" relu; named "2" (dense 10) ]

let private same (what: string) (a: Tensor) (b: Tensor) = if not (obj.ReferenceEquals(a, b)) then failtestf "%s: expected the very tensor of the original model" what

let private sameValues (what: string) (a: Tensor) (b: Tensor) =
    expectEqual (what + ": shape") a.Shape b.Shape
    expectEqual (what + ": values") (values a) (values b)

let private replaceTests =
    testList "replace" [
        testCase "replacing the classifier keeps the features' tensors and seeds the new head as a fresh build would"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildSeeded 1L [ 1L; 12L; 12L ] (vggLike head10)
                let r = Model.replaceSeeded 7L "classifier" (dense 4) m
                expectEqual "output" (dims [ 4L ]) r.Output
                for p in [ "features.0.weight"; "features.0.bias"; "features.3.weight"; "features.3.bias" ] do
                    same p (Tree.find p m.Params) (Tree.find p r.Params)
                expectEqual
                    "paths"
                    [ "features.0.weight"; "features.0.bias"; "features.3.weight"; "features.3.bias"; "classifier.weight"; "classifier.bias" ]
                    (Tree.paths r.Params)
                let fresh = Model.buildSeeded 7L [ 1L; 12L; 12L ] (vggLike (dense 4))
                sameValues "classifier.weight" (Tree.find "classifier.weight" fresh.Params) (Tree.find "classifier.weight" r.Params)
                let other = Model.replaceSeeded 8L "classifier" (dense 4) m
                if values (Tree.find "classifier.weight" other.Params) = values (Tree.find "classifier.weight" r.Params) then failtest "seeds 7 and 8 gave the same new head"
                // The original model is unchanged and still works.
                expectEqual "original output" (dims [ 10L ]) m.Output
                expectEqual "original logits" [| 2L; 10L |] (Model.forward m (Torch.Randn [| 2L; 1L; 12L; 12L |])).Shape
                expectEqual "new logits" [| 2L; 4L |] (Model.forward r (Torch.Randn [| 2L; 1L; 12L; 12L |])).Shape)

        testCase "a nested path is replaced and the layers whose input changed are built again; the others keep their tensors"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 1L; 12L; 12L ] (vggLike head10)
                let r = Model.replace "features.3" (conv2d 9 3) m
                expectEqual "new conv" [| 9L; 4L; 3L; 3L |] (Tree.find "features.3.weight" r.Params).Shape
                same "features.0.weight" (Tree.find "features.0.weight" m.Params) (Tree.find "features.0.weight" r.Params)
                // classifier.0 now sees 9·3·3 = 81 features instead of 54: built again; classifier.2 keeps its tensors.
                expectEqual "classifier.0 re-inferred" [| 16L; 81L |] (Tree.find "classifier.0.weight" r.Params).Shape
                same "classifier.2.weight" (Tree.find "classifier.2.weight" m.Params) (Tree.find "classifier.2.weight" r.Params)
                let rows = Summary.table { r with Info = r.Info }
                expectEqual "summary rows" [ "features"; "flatten"; "classifier" ] (rows |> List.map (fun (n, _, _, _) -> n))
                expectEqual "total" (Params.numel r.Params) (Model.countParams r))

        testCase "a zoo VGG's last classifier layer is replaced inside its classifier"
        <| fun () ->
            scoped (fun () ->
                let vgg = Vgg.build [ VggItem.Conv 4; VggItem.Pool; VggItem.Conv 8; VggItem.Pool ] false 32 { Zoo.Default with Classes = 10 }
                let m = Model.build [ 3L; 16L; 16L ] vgg
                let r = Model.replace "classifier.6" (dense 4) m
                expectEqual "output" (dims [ 4L ]) r.Output
                for p in Tree.paths m.Params |> List.filter (fun p -> not (p.StartsWith "classifier.6")) do
                    same p (Tree.find p m.Params) (Tree.find p r.Params)
                expectEqual "head" [| 4L; 32L |] (Tree.find "classifier.6.weight" r.Params).Shape)

        testCase "inside a ResNet block (a residual sum): the main branch is remade, the shortcut and other blocks are kept"
        <| fun () ->
            scoped (fun () ->
                let net = ResNet.build ResNetBlock.Basic [ 1; 1 ] [ 8; 16 ] 8 { Zoo.Default with Classes = 5 }
                let m = Model.build [ 3L; 32L; 32L ] net
                let conv = conv2dWith { torchvisionConv with Stride = 2; Padding = Pad 1; Bias = false } 12 (3, 3)
                let r = Model.replace "layer2.0.conv1" conv m
                expectEqual "paths" (Tree.paths m.Params) (Tree.paths r.Params)
                expectEqual "conv1" [| 12L; 8L; 3L; 3L |] (Tree.find "layer2.0.conv1.weight" r.Params).Shape
                expectEqual "bn1 re-inferred" [| 12L |] (Tree.find "layer2.0.bn1.weight" r.Params).Shape
                expectEqual "conv2 re-inferred" [| 16L; 12L; 3L; 3L |] (Tree.find "layer2.0.conv2.weight" r.Params).Shape
                for p in [ "conv1.weight"; "layer1.0.conv1.weight"; "layer2.0.downsample.0.weight"; "layer2.0.downsample.1.weight"; "fc.weight" ] do
                    same p (Tree.find p m.Params) (Tree.find p r.Params)
                same "downsample state" (Tree.find "layer2.0.downsample.1.running_mean" m.State) (Tree.find "layer2.0.downsample.1.running_mean" r.State)
                expectEqual "logits" [| 2L; 5L |] (Model.forward r (Torch.Randn [| 2L; 3L; 32L; 32L |])).Shape)

        testCase "frozen parts stay frozen and the new part trains"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 1L; 12L; 12L ] (vggLike head10) |> Model.freeze [ "features" ]
                let r = Model.replace "classifier" (dense 4) m
                expectEqual "frozen" (Set.ofList [ "features.0.weight"; "features.0.bias"; "features.3.weight"; "features.3.bias" ]) r.Frozen
                expectEqual "trainable" (Tree.find "classifier.weight" r.Params).Numel (Model.trainableParams r - 4L)
                let f = Model.build [ 1L; 12L; 12L ] (vggLike (frozen head10))
                let g = Model.replace "classifier.2" (dense 3) f
                // classifier is a `frozen` layer: its new sublayer is frozen with it, as Keras's trainable = False.
                expectEqual "frozen container" true (g.Frozen.Contains "classifier.2.weight"))

        testCase "a path that does not exist names the paths that do"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 1L; 12L; 12L ] (vggLike head10)
                let e = expectThrows<ArgumentException>(fun () -> Model.replace "clasifier" (dense 4) m |> ignore)
                expectContains "'clasifier'" e.Message
                expectContains "features.4, flatten, classifier, classifier.0" e.Message
                let e = expectThrows<ArgumentException>(fun () -> Model.replace "features.7" (dense 4) m |> ignore)
                expectContains "features.0" e.Message)

        testCase "a container that cannot be remade is named, with the fix"
        <| fun () ->
            scoped (fun () ->
                let inner = serial [ named "a" (dense 3) ]
                let opaque = { Layer.identity "Opaque" with Sublayers = [ "inner", inner ]; Init = inner.Init; Apply = inner.Apply }
                let m = Model.build [ 2L ] (serial [ named "box" opaque; named "out" (dense 2) ])
                let e = expectThrows<ArgumentException>(fun () -> Model.replace "box.inner" (dense 5) m |> ignore)
                expectContains "'box' (Opaque)" e.Message
                expectContains "replace 'box' itself" e.Message)

        testCase "a shape that no longer fits is a ShapeError naming the layer"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 1L; 12L; 12L ] (vggLike head10)
                let e = expectThrows<ShapeError>(fun () -> Model.replace "flatten" relu m |> ignore)
                expectContains "classifier.0" e.Message)

        testCase "live tensors return to the baseline after replacing and disposing both models"
        <| fun () ->
            let baseline = settledLive ()
            let m = Model.build [ 1L; 12L; 12L ] (vggLike head10)
            let r = Model.replace "features.3" (conv2d 9 3) m
            Model.dispose r
            Model.dispose m
            expectEqual "live tensors" baseline (settledLive ())
    ]

let private freezeTests =
    testList "freezing zoo models" [
        testCase "MobileNetV2: freeze the features by pattern, the classifier trains; the summary says which rows train"
        <| fun () ->
            scoped (fun () ->
                let stages = [ { Expand = 1; Channels = 16; Repeats = 1; Stride = 1 }; { Expand = 6; Channels = 24; Repeats = 2; Stride = 2 } ]
                let net = MobileNet.v2With 0.5 stages 0.2 { Zoo.Default with Classes = 4 }
                let m = Model.build [ 3L; 32L; 32L ] net
                let f = m |> Model.freeze [ "features.**" ]
                let head = Tree.toList m.Params |> List.filter (fun (p, _) -> p.StartsWith "classifier") |> List.sumBy (fun (_, t) -> t.Numel)
                expectEqual "trainable" head (Model.trainableParams f)
                let rowOf (text: string) (name: string) = text.Split('\n') |> Array.find (fun l -> l.StartsWith(" " + name + " ("))
                let text = Summary.render f
                expectContains "Trainable" text
                expectEqual "features row" 'N' (rowOf text "features").[(rowOf text "features").Length - 1]
                expectEqual "classifier row" 'Y' (rowOf text "classifier").[(rowOf text "classifier").Length - 1]
                expectContains "part" (rowOf (Summary.render (f |> Model.unfreeze [ "features.0.**" ])) "features")
                expectContains (sprintf "Trainable params: %s" (head.ToString("N0", Globalization.CultureInfo.InvariantCulture))) text
                // A model with nothing frozen keeps Keras's three columns.
                expectNotContains "Trainable" ((Summary.render m).Split('\n').[2]))

        testCase "ResNet18 at full size: freeze everything but the head, then unfreeze the last stage"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildWith { BuildOptions.Default with Initialize = false } (dims [ 3L; 64L; 64L ]) (Zoo.resnet18 { Zoo.Default with Classes = 4 })
                try
                    let f = m |> Model.freeze [ "**" ] |> Model.unfreeze [ "fc" ]
                    expectEqual "head only" (512L * 4L + 4L) (Model.trainableParams f)
                    let g = f |> Model.unfreeze [ "layer4.**" ]
                    let layer4 = Tree.toList m.Params |> List.filter (fun (p, _) -> p.StartsWith "layer4.") |> List.sumBy (fun (_, t) -> t.Numel)
                    expectEqual "layer4 and head" (layer4 + 2052L) (Model.trainableParams g)
                finally
                    Model.dispose m)
    ]

/// A two-layer net, its data, and the gradient of its loss at its own parameters (Train mode, as fit takes it).
let private groupNet = serial [ named "a" (dense 3); named "act" tanhLayer; named "b" (dense 2) ]

let private groupData () =
    use g = new Generator(5L)
    let x = Torch.Randn([| 8L; 4L |], g)
    let y = Torch.From([| 0L; 1L; 1L; 0L; 1L; 0L; 0L; 1L |], [| 8L |])
    x, y

let private gradients (m: Model) (x: Tensor) (y: Tensor) : Params =
    let ps = Params.clone m.Params
    let pred, _ = Model.applyWith m ps m.State Train (Rng.seed 0L) (Value.T x)
    (Loss.crossEntropy.Compute pred (Value.T y)).Backward()
    ps
    |> Tree.map (fun p ->
        (match p.Grad with
         | null -> failwith "no gradient"
         | g -> g)
            .Clone())

let private groupTests =
    testList "parameter groups" [
        testCase "one SGD step moves each group by its own rate times its gradient, exactly"
        <| fun () ->
            scoped (fun () ->
                let x, y = groupData ()
                let m = Model.buildSeeded 3L [ 4L ] groupNet
                let g = gradients m x y
                // Rates that are powers of two make lr·grad exact, so p − lr·grad has one rounding, as the step's.
                let o = { quiet with Optimizer = Optimizers.sgd 0.5; ParamGroups = [ "b.**", 0.125 ]; Epochs = 1; BatchSize = 8; Shuffle = false; Metrics = [] }
                let t = Training.fit o m x (Value.T y)
                for p in Tree.paths m.Params do
                    let lr = if p.StartsWith "b." then 0.125 else 0.5
                    let expected = Array.map2 (fun w d -> float32 w - float32 lr * float32 d) (values (Tree.find p m.Params)) (values (Tree.find p g))
                    expectEqual (sprintf "%s after one step at %g" p lr) (Array.map float expected) (values (Tree.find p t.Model.Params))
                // The same fit without groups moves b by 0.5·grad: the groups made the difference.
                let t2 = Training.fit { o with ParamGroups = [] } m x (Value.T y)
                if values (Tree.find "b.weight" t2.Model.Params) = values (Tree.find "b.weight" t.Model.Params) then failtest "the group's rate made no difference")

        testCase "a schedule scales each group's base rate; the logs show group 0's"
        <| fun () ->
            scoped (fun () ->
                let x, y = groupData ()
                let m = Model.build [ 4L ] groupNet
                let seen = Collections.Generic.List<float list>()
                let record = { Callback.create "record" with OnEpochBegin = fun ctx -> seen.Add(List.ofSeq ctx.Optimizer.LearningRates) }
                let o = {
                    quiet with
                        Optimizer = Optimizers.sgd 0.1
                        ParamGroups = [ "a.**", 0.01 ]
                        Epochs = 3
                        Callbacks = [ Callback.learningRateScheduler (Schedule.step 1 0.5); record ]
                }
                let t = Training.fit o m x (Value.T y)
                expectEqual "rates per epoch (group 0 = b, group 1 = a)" [ [ 0.1; 0.01 ]; [ 0.05; 0.005 ]; [ 0.025; 0.0025 ] ] (List.ofSeq seen)
                expectEqual "logged" [ 0.1; 0.05; 0.025 ] (t.History |> List.map _.LearningRate))

        testCase "checkpoints save and restore each group's rate and state; a different grouping is refused"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = groupData ()
                    let m = Model.build [ 4L ] groupNet
                    let o = {
                        quiet with
                            Optimizer = Optimizers.sgdWith 0.1 0.9 false 0.0
                            ParamGroups = [ "a.**", 0.02 ]
                            Epochs = 4
                            BatchSize = 4
                            Callbacks = [ Callback.modelCheckpoint { ModelCheckpoint.Default with Path = Path.Combine(dir, "ckpt-{epoch}") } ]
                    }
                    let straight = Training.fit o m x (Value.T y)
                    // Resumed with another rate for group a: the checkpoint's rates win (as load_state_dict), with the momentum.
                    let resumed = Training.fit { o with ParamGroups = [ "a.**", 0.5 ]; ResumeFrom = Some(Path.Combine(dir, "ckpt-2")) } m x (Value.T y)
                    for p in Tree.paths m.Params do
                        expectEqual p (values (Tree.find p straight.Model.Params)) (values (Tree.find p resumed.Model.Params))
                    let other = Training.fit { o with ParamGroups = [ "a.**", 0.5 ]; Epochs = 4 } m x (Value.T y)
                    if values (Tree.find "a.weight" other.Model.Params) = values (Tree.find "a.weight" straight.Model.Params) then failtest "the group's rate made no difference"
                    let e =
                        expectThrows<ArgumentException>(fun () ->
                            Training.fit { o with ParamGroups = []; ResumeFrom = Some(Path.Combine(dir, "ckpt-2")) } m x (Value.T y) |> ignore)
                    expectContains "2 parameter group(s) but this optimizer has 1" e.Message))

        testCase "the engine's groups: rates, parameters, state round trip, and a parameter in two groups is refused"
        <| fun () ->
            scoped (fun () ->
                let a, b = Torch.Ones([| 2L |]).RequiresGrad_(true), Torch.Ones([| 3L |]).RequiresGrad_(true)
                use opt = new SGD([ a ], 0.1, momentum = 0.9)
                expectEqual "group" 1 (opt.AddParamGroup([ b ], 0.01))
                expectEqual "count" 2 opt.GroupCount
                expectEqual "rates" [ 0.1; 0.01 ] (List.ofSeq opt.LearningRates)
                expectEqual "group 1" [ b ] (List.ofSeq (opt.GroupParameters 1))
                (a.Sum() + b.Sum()).Backward()
                opt.Step()
                expectEqual "a" [| 0.9; 0.9 |] (values a |> Array.map (fun v -> Math.Round(v, 6)))
                expectEqual "b" [| 0.99; 0.99; 0.99 |] (values b |> Array.map (fun v -> Math.Round(v, 6)))
                let struct (ts, sc) = opt.GetState()
                expectEqual "saved rate" 0.01 sc.["group.1.lr"]
                use other = new SGD([ a ], 0.5, momentum = 0.9)
                other.AddParamGroup([ b ], 0.5) |> ignore
                other.SetState(ts, sc)
                expectEqual "restored rates" [ 0.1; 0.01 ] (List.ofSeq other.LearningRates)
                use single = new SGD([ a; b ], 0.5, momentum = 0.9)
                let e = expectThrows<ArgumentException>(fun () -> single.SetState(ts, sc))
                expectContains "2 parameter group(s)" e.Message
                let e = expectThrows<ArgumentException>(fun () -> opt.AddParamGroup([ a ], 0.1) |> ignore)
                expectContains "already in a group" e.Message
                opt.LearningRate <- 0.3
                expectEqual "setting LearningRate sets every group" [ 0.3; 0.3 ] (List.ofSeq opt.LearningRates))

        testCase "a group pattern that selects nothing names the paths"
        <| fun () ->
            scoped (fun () ->
                let x, y = groupData ()
                let m = Model.build [ 4L ] groupNet
                let e = expectThrows<ArgumentException>(fun () -> Training.fit { quiet with ParamGroups = [ "features.**", 1e-5 ] } m x (Value.T y) |> ignore)
                expectContains "'features.**' selects no parameter" e.Message
                expectContains "a.weight" e.Message)
    ]

let private bnTests =
    testList "frozen batch norm" [
        testCase "a frozen batch norm keeps its statistics through fit and gives Eval's output in Train mode"
        <| fun () ->
            scoped (fun () ->
                let net = serial [ named "base" (serial [ named "conv" (conv2d 4 3); named "bn" batchNorm; named "relu" relu ]); named "flatten" flatten; named "head" (dense 2) ]
                use g = new Generator(9L)
                let x = Torch.Randn([| 16L; 1L; 6L; 6L |], g) * 3.0 + 1.0
                let y = Torch.From(Array.init 16 (fun i -> int64 (i % 2)), [| 16L |])
                let m = Model.build [ 1L; 6L; 6L ] net
                // Give the statistics values that batch statistics would change.
                let m = m |> Model.withState (m.State |> Tree.map (fun t -> (t * 0.5 + 0.25).DetachFromScope()))
                let before = m.State |> Tree.map values
                let o = { quiet with Epochs = 2; BatchSize = 4 }
                let frozenFit = Training.fit o (m |> Model.freeze [ "base" ]) x (Value.T y)
                expectEqual "statistics unchanged" before (frozenFit.Model.State |> Tree.map values)
                let trained = frozenFit.Model
                let train, _ = Model.applyWith trained trained.Params trained.State Train (Rng.seed 0L) (Value.T x)
                let eval, _ = Model.applyWith trained trained.Params trained.State Eval (Rng.seed 0L) (Value.T x)
                expectEqual "Train output equals Eval output" (values (Value.tensor eval)) (values (Value.tensor train))
                // The control: the same fit with the base trainable updates the statistics.
                let open' = Training.fit o m x (Value.T y)
                if (open'.Model.State |> Tree.map values) = before then failtest "an unfrozen batch norm did not update its statistics")

        testCase "inside `frozen` too"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 3L ] (serial [ named "base" (frozen (serial [ dense 4; batchNorm ])); named "head" (dense 2) ])
                use g = new Generator(2L)
                let x = Torch.Randn([| 8L; 3L |], g)
                let train, st = Model.applyWith m m.Params m.State Train (Rng.seed 0L) (Value.T x)
                let eval, _ = Model.applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x)
                expectEqual "Train = Eval" (values (Value.tensor eval)) (values (Value.tensor train))
                expectEqual "state" (m.State |> Tree.map values) (st |> Tree.map values))
    ]

/// This module's tests, the Expecto list "Surgery" (Main finds it through [<Tests>]).
[<Tests>]
let tests = testList "Surgery" [ replaceTests; freezeTests; groupTests; bnTests ]
