/// The model zoo: exact parameter counts (torchvision 0.14 and Keras), conformance with torchvision's forward
/// pass from tests/fixtures/zoo (make_zoo_fixtures.py), Keras's summaries, and the zoo's blocks.
module Dsl.Tests.Zoo

open System
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Tests.Helpers

let private o10 = { Zoo.Default with Classes = 10 }

/// Builds without filling the weights (counting needs only shapes; vgg16 would otherwise fill 550 MB).
let private shapesOnly (input: int64 list) (layer: Layer) = Model.buildWith { BuildOptions.Default with Initialize = false } (Shape.Dims input) layer

let private counted (input: int64 list) (layer: Layer) (f: Model -> unit) =
    let m = shapesOnly input layer
    try
        f m
    finally
        Model.dispose m

let private settledLive () =
    for _ in 1..2 do
        GC.Collect()
        GC.WaitForPendingFinalizers()
    Tensor.LiveCount

let private fixtureDir =
    let rec up (d: DirectoryInfo | null) =
        match d with
        | null -> failwith "tests/fixtures/zoo not found above the test binary"
        | d when Directory.Exists(Path.Combine(d.FullName, "tests", "fixtures", "zoo")) -> Path.Combine(d.FullName, "tests", "fixtures", "zoo")
        | d -> up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Loads a fixture's weights into the Dsl model through Zoo.torchvisionName, runs it in Eval mode and returns
/// max |Dsl − torchvision|; fails when a key has no Dsl path or a Dsl path no fixture tensor.
let private conformance (name: string) (layer: Layer) : float =
    let file = Path.Combine(fixtureDir, name + ".safetensors")
    use scope = DisposeScope.Enter()
    let tensors = Safetensors.Load file |> Seq.map (fun kv -> kv.Key, kv.Value) |> dict
    let x = tensors.["__input__"]
    let expected = tensors.["__output__"]
    let byPath = tensors.Keys |> Seq.filter (fun k -> not (k.StartsWith "__")) |> Seq.choose (fun k -> Zoo.torchvisionName k |> Option.map (fun p -> p, tensors.[k])) |> dict
    let m = Model.buildWith { BuildOptions.Default with Initialize = false } (Shape.Dims(List.ofArray x.Shape |> List.tail)) layer
    let pick (p: string) (_: Tensor) =
        match byPath.TryGetValue p with
        | true, t -> t
        | _ -> failtestf "%s: the Dsl path '%s' has no torchvision tensor; torchvision keys: %s" name p (String.Join(", ", byPath.Keys))
    let ps, st = Tree.mapi pick m.Params, Tree.mapi pick m.State
    Expect.equal (Tree.count ps + Tree.count st) byPath.Count (sprintf "%s: every torchvision tensor has a Dsl path" name)
    let loaded = m |> Model.withParams ps |> Model.withState st
    let y = Model.forward loaded x
    Model.dispose m
    maxAbsDiff (values y) (values expected)

let private v2SmallStages: MobileNetV2Stage list = [
    for t, c, n, s in [ 1, 16, 1, 1; 6, 24, 2, 2; 6, 32, 2, 2; 6, 64, 1, 2 ] -> { Expand = t; Channels = c; Repeats = n; Stride = s }
]

let private conformanceCases: (string * Layer) list = [
    "vgg_small", Vgg.build [ VggItem.Conv 8; VggItem.Pool; VggItem.Conv 16; VggItem.Pool; VggItem.Conv 16; VggItem.Conv 16; VggItem.Pool ] false 32 o10
    "vgg_bn_small", Vgg.build [ VggItem.Conv 8; VggItem.Pool; VggItem.Conv 16; VggItem.Pool; VggItem.Conv 16; VggItem.Conv 16; VggItem.Pool ] true 32 o10
    "resnet_basic_small", ResNet.build ResNetBlock.Basic [ 2; 1; 1; 1 ] [ 8; 16; 24; 32 ] 8 o10
    "resnet_bottleneck_small", ResNet.build ResNetBlock.Bottleneck [ 1; 2; 1; 1 ] [ 4; 8; 8; 8 ] 8 o10
    "mobilenet_v2_small", MobileNet.v2With 0.5 v2SmallStages 0.2 o10
    "mobilenet_v3_small_w025", MobileNet.v3With 0.25 (fst MobileNet.v3SmallBlocks) (snd MobileNet.v3SmallBlocks) 0.2 o10
    "efficientnet_b0_w025", EfficientNet.build 0.25 0.5 EfficientNet.b0Stages 0.2 0.2 BatchNormOptions.Default o10
]

/// Keras's `MobileNet().summary()` (keras/applications/mobilenet.py: alpha 1.0, depth multiplier 1, 224×224,
/// include_top): layer name, output shape (channels last), parameters (batch norm counts 4 per channel).
let private kerasMobileNetRows: (string * string * int64) list = [
    "conv1_pad", "(None, 225, 225, 3)", 0L
    "conv1", "(None, 112, 112, 32)", 864L
    "conv1_bn", "(None, 112, 112, 32)", 128L
    "conv1_relu", "(None, 112, 112, 32)", 0L
    "conv_dw_1", "(None, 112, 112, 32)", 288L
    "conv_dw_1_bn", "(None, 112, 112, 32)", 128L
    "conv_dw_1_relu", "(None, 112, 112, 32)", 0L
    "conv_pw_1", "(None, 112, 112, 64)", 2048L
    "conv_pw_1_bn", "(None, 112, 112, 64)", 256L
    "conv_pw_1_relu", "(None, 112, 112, 64)", 0L
    "conv_pad_2", "(None, 113, 113, 64)", 0L
    "conv_dw_2", "(None, 56, 56, 64)", 576L
    "conv_dw_2_bn", "(None, 56, 56, 64)", 256L
    "conv_dw_2_relu", "(None, 56, 56, 64)", 0L
    "conv_pw_2", "(None, 56, 56, 128)", 8192L
    "conv_pw_2_bn", "(None, 56, 56, 128)", 512L
    "conv_pw_2_relu", "(None, 56, 56, 128)", 0L
    "conv_dw_3", "(None, 56, 56, 128)", 1152L
    "conv_dw_3_bn", "(None, 56, 56, 128)", 512L
    "conv_dw_3_relu", "(None, 56, 56, 128)", 0L
    "conv_pw_3", "(None, 56, 56, 128)", 16384L
    "conv_pw_3_bn", "(None, 56, 56, 128)", 512L
    "conv_pw_3_relu", "(None, 56, 56, 128)", 0L
    "conv_pad_4", "(None, 57, 57, 128)", 0L
    "conv_dw_4", "(None, 28, 28, 128)", 1152L
    "conv_dw_4_bn", "(None, 28, 28, 128)", 512L
    "conv_dw_4_relu", "(None, 28, 28, 128)", 0L
    "conv_pw_4", "(None, 28, 28, 256)", 32768L
    "conv_pw_4_bn", "(None, 28, 28, 256)", 1024L
    "conv_pw_4_relu", "(None, 28, 28, 256)", 0L
    "conv_dw_5", "(None, 28, 28, 256)", 2304L
    "conv_dw_5_bn", "(None, 28, 28, 256)", 1024L
    "conv_dw_5_relu", "(None, 28, 28, 256)", 0L
    "conv_pw_5", "(None, 28, 28, 256)", 65536L
    "conv_pw_5_bn", "(None, 28, 28, 256)", 1024L
    "conv_pw_5_relu", "(None, 28, 28, 256)", 0L
    "conv_pad_6", "(None, 29, 29, 256)", 0L
    "conv_dw_6", "(None, 14, 14, 256)", 2304L
    "conv_dw_6_bn", "(None, 14, 14, 256)", 1024L
    "conv_dw_6_relu", "(None, 14, 14, 256)", 0L
    "conv_pw_6", "(None, 14, 14, 512)", 131072L
    "conv_pw_6_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_6_relu", "(None, 14, 14, 512)", 0L
    "conv_dw_7", "(None, 14, 14, 512)", 4608L
    "conv_dw_7_bn", "(None, 14, 14, 512)", 2048L
    "conv_dw_7_relu", "(None, 14, 14, 512)", 0L
    "conv_pw_7", "(None, 14, 14, 512)", 262144L
    "conv_pw_7_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_7_relu", "(None, 14, 14, 512)", 0L
    "conv_dw_8", "(None, 14, 14, 512)", 4608L
    "conv_dw_8_bn", "(None, 14, 14, 512)", 2048L
    "conv_dw_8_relu", "(None, 14, 14, 512)", 0L
    "conv_pw_8", "(None, 14, 14, 512)", 262144L
    "conv_pw_8_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_8_relu", "(None, 14, 14, 512)", 0L
    "conv_dw_9", "(None, 14, 14, 512)", 4608L
    "conv_dw_9_bn", "(None, 14, 14, 512)", 2048L
    "conv_dw_9_relu", "(None, 14, 14, 512)", 0L
    "conv_pw_9", "(None, 14, 14, 512)", 262144L
    "conv_pw_9_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_9_relu", "(None, 14, 14, 512)", 0L
    "conv_dw_10", "(None, 14, 14, 512)", 4608L
    "conv_dw_10_bn", "(None, 14, 14, 512)", 2048L
    "conv_dw_10_relu", "(None, 14, 14, 512)", 0L
    "conv_pw_10", "(None, 14, 14, 512)", 262144L
    "conv_pw_10_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_10_relu", "(None, 14, 14, 512)", 0L
    "conv_dw_11", "(None, 14, 14, 512)", 4608L
    "conv_dw_11_bn", "(None, 14, 14, 512)", 2048L
    "conv_dw_11_relu", "(None, 14, 14, 512)", 0L
    "conv_pw_11", "(None, 14, 14, 512)", 262144L
    "conv_pw_11_bn", "(None, 14, 14, 512)", 2048L
    "conv_pw_11_relu", "(None, 14, 14, 512)", 0L
    "conv_pad_12", "(None, 15, 15, 512)", 0L
    "conv_dw_12", "(None, 7, 7, 512)", 4608L
    "conv_dw_12_bn", "(None, 7, 7, 512)", 2048L
    "conv_dw_12_relu", "(None, 7, 7, 512)", 0L
    "conv_pw_12", "(None, 7, 7, 1024)", 524288L
    "conv_pw_12_bn", "(None, 7, 7, 1024)", 4096L
    "conv_pw_12_relu", "(None, 7, 7, 1024)", 0L
    "conv_dw_13", "(None, 7, 7, 1024)", 9216L
    "conv_dw_13_bn", "(None, 7, 7, 1024)", 4096L
    "conv_dw_13_relu", "(None, 7, 7, 1024)", 0L
    "conv_pw_13", "(None, 7, 7, 1024)", 1048576L
    "conv_pw_13_bn", "(None, 7, 7, 1024)", 4096L
    "conv_pw_13_relu", "(None, 7, 7, 1024)", 0L
    "global_average_pooling2d", "(None, 1, 1, 1024)", 0L
    "dropout", "(None, 1, 1, 1024)", 0L
    "conv_preds", "(None, 1, 1, 1000)", 1025000L
    "reshape_2", "(None, 1000)", 0L
    "predictions", "(None, 1000)", 0L
]

/// Keras's `Xception().summary()` (keras/applications/xception.py, 299×299, include_top) with each residual
/// block's layers (separable convolutions, batch norms, the shortcut's convolution and batch norm) summed into
/// one row, as the Dsl shows a block: name, output shape (channels last), parameters.
let private kerasXceptionRows: (string * string * int64) list = [
    "block1_conv1", "(None, 149, 149, 32)", 864L
    "block1_conv1_bn", "(None, 149, 149, 32)", 128L
    "block1_conv1_act", "(None, 149, 149, 32)", 0L
    "block1_conv2", "(None, 147, 147, 64)", 18432L
    "block1_conv2_bn", "(None, 147, 147, 64)", 256L
    "block1_conv2_act", "(None, 147, 147, 64)", 0L
    "block2", "(None, 74, 74, 128)", 36032L
    "block3", "(None, 37, 37, 256)", 137600L
    "block4", "(None, 19, 19, 728)", 920312L
    yield! [ for i in 5..12 -> sprintf "block%d" i, "(None, 19, 19, 728)", 1618344L ]
    "block13", "(None, 10, 10, 1024)", 2045136L
    "block14_sepconv1", "(None, 10, 10, 1536)", 1582080L
    "block14_sepconv1_bn", "(None, 10, 10, 1536)", 6144L
    "block14_sepconv1_act", "(None, 10, 10, 1536)", 0L
    "block14_sepconv2", "(None, 10, 10, 2048)", 3159552L
    "block14_sepconv2_bn", "(None, 10, 10, 2048)", 8192L
    "block14_sepconv2_act", "(None, 10, 10, 2048)", 0L
    "avg_pool", "(None, 2048)", 0L
    "predictions", "(None, 1000)", 2049000L
]

let private summaryRows (m: Model) =
    let o = { SummaryOptions.Default with ChannelsLast = true }
    let show (s: Shape) =
        match s with
        | Shape.Dims [ c; h; w ] when o.ChannelsLast -> string (Shape.Dims [ h; w; c ])
        | s -> string s
    Summary.table m |> List.map (fun (n, _, s, p) -> n, show s, p)

/// This module's tests, the Expecto list "Zoo".
[<Tests>]
let tests =
    testList "Zoo" [
        testList "torchvision parameter counts" [
            for name, layer, expected in
                [
                    "vgg11", Zoo.vgg11 Zoo.Default, 132_863_336L
                    "vgg16", Zoo.vgg16 Zoo.Default, 138_357_544L
                    "resnet18", Zoo.resnet18 Zoo.Default, 11_689_512L
                    "resnet50", Zoo.resnet50 Zoo.Default, 25_557_032L
                    "mobilenet_v2", Zoo.mobilenetV2 Zoo.Default, 3_504_872L
                    "mobilenet_v3_small", Zoo.mobilenetV3Small Zoo.Default, 2_542_856L
                    "efficientnet_b0", Zoo.efficientnetB0 Zoo.Default, 5_288_548L
                ] do
                yield test name { counted [ 3L; 224L; 224L ] layer (fun m -> Expect.equal (Params.numel m.Params) expected (sprintf "%s parameters (torchvision 0.14)" name)) }
            yield
                test "vgg16_bn: parameters, and buffers without the 13 num_batches_tracked counters" {
                    counted [ 3L; 224L; 224L ] (Zoo.vgg16Bn Zoo.Default) (fun m ->
                        Expect.equal (Params.numel m.Params) 138_365_992L "vgg16_bn parameters"
                        Expect.equal (Params.numel m.State) (8_461L - 13L) "vgg16_bn running statistics")
                }
            yield
                test "the other VGGs and resnet34 build for 224×224 with their torchvision counts" {
                    for layer, expected in
                        [
                            Zoo.vgg11Bn Zoo.Default, 132_868_840L
                            Zoo.vgg13 Zoo.Default, 133_047_848L
                            Zoo.vgg13Bn Zoo.Default, 133_053_736L
                            Zoo.vgg19 Zoo.Default, 143_667_240L
                            Zoo.vgg19Bn Zoo.Default, 143_678_248L
                            Zoo.resnet34 Zoo.Default, 21_797_672L
                        ] do
                        counted [ 3L; 224L; 224L ] layer (fun m -> Expect.equal (Params.numel m.Params) expected "parameters")
                }
            yield
                test "IncludeTop = false ends with the feature map; Classes sets the classifier" {
                    counted [ 3L; 224L; 224L ] (Zoo.resnet18 { Zoo.Default with IncludeTop = false }) (fun m ->
                        Expect.equal m.Output (Shape.Dims [ 512L; 7L; 7L ]) "resnet18 features")
                    counted [ 3L; 224L; 224L ] (Zoo.efficientnetB0 { Zoo.Default with Classes = 4 }) (fun m -> Expect.equal m.Output (Shape.Dims [ 4L ]) "four classes")
                }
        ]
        testList "torchvision conformance (Eval, max |diff| <= 1e-4)" [
            for name, layer in conformanceCases ->
                test name {
                    let before = settledLive ()
                    let diff = conformance name layer
                    Expect.isLessThanOrEqual diff 1e-4 (sprintf "%s: max |Dsl - torchvision| = %g" name diff)
                    Expect.equal (settledLive ()) before "no tensor is left behind"
                }
        ]
        testList "weights from a file" [
            test "ZooWeights.File fills a zoo model from a torchvision state dict, and it forwards as torchvision" {
                use scope = DisposeScope.Enter()
                let all = Safetensors.Load(Path.Combine(fixtureDir, "resnet_basic_small.safetensors"))
                let find k = all |> Seq.find (fun kv -> kv.Key = k) |> _.Value
                let x, expected = find "__input__", find "__output__"
                let file = Path.Combine(Path.GetTempPath(), sprintf "dsl-zoo-weights-%d.safetensors" Environment.ProcessId)
                Safetensors.Save(file, all |> Seq.filter (fun kv -> not (kv.Key.StartsWith "__")))
                try
                    let arch (o: ZooOptions) = Zoo.withWeights None o (ResNet.build ResNetBlock.Basic [ 2; 1; 1; 1 ] [ 8; 16; 24; 32 ] 8 o)
                    let input = List.ofArray x.Shape |> List.tail
                    let m = Zoo.build input { o10 with Weights = ZooWeights.File file } arch
                    let diff = maxAbsDiff (values (Model.forward m x)) (values expected)
                    Expect.isLessThanOrEqual diff 1e-4 (sprintf "max |Dsl - torchvision| = %g" diff)
                    // Another head is refused naming the path and both shapes, before any training.
                    let e = expectThrows<InvalidOperationException>(fun () -> Zoo.build input { o10 with Classes = 7; Weights = ZooWeights.File file } arch |> ignore)
                    expectContains "'fc.weight' is [10, 32] in the file but [7, 32] in the model" e.Message
                    // Without the top, the file's classifier is left out and the features load.
                    let features = Zoo.build input { o10 with IncludeTop = false; Weights = ZooWeights.File file } arch
                    Expect.isFalse (Tree.paths features.Params |> List.exists (fun p -> p.StartsWith "fc.")) "no classifier"
                finally
                    File.Delete file
            }
            test "ImageNet weights with another number of classes say to build without the top" {
                let e = expectThrows<ArgumentException>(fun () -> Zoo.resnet18 { Zoo.Default with Classes = 4; Weights = ZooWeights.ImageNet } |> ignore)
                expectContains "Build with IncludeTop = false" e.Message
                let e = expectThrows<ArgumentException>(fun () -> Zoo.xception { Zoo.Default with Weights = ZooWeights.ImageNet } |> ignore)
                expectContains "ZooWeights.File" e.Message
            }
        ]
        testList "Keras counts and summaries" [
            test "MobileNet: Keras's per-layer table and totals" {
                counted [ 3L; 224L; 224L ] (Zoo.mobilenet Zoo.Default) (fun m ->
                    Expect.sequenceEqual (summaryRows m) kerasMobileNetRows "rows as Keras's summary"
                    Expect.equal (Model.countParams m) 4_253_864L "total"
                    Expect.equal (Model.trainableParams m) 4_231_976L "trainable"
                    Expect.equal (Model.nonTrainableParams m) 21_888L "non-trainable"
                    let text = Summary.renderWith { SummaryOptions.Default with ChannelsLast = true } m
                    expectContains "Total params: 4,253,864" text
                    expectContains "Trainable params: 4,231,976" text
                    expectContains "Non-trainable params: 21,888" text)
            }
            test "Xception: Keras's table (blocks summed) and totals" {
                counted [ 3L; 299L; 299L ] (Zoo.xception Zoo.Default) (fun m ->
                    Expect.sequenceEqual (summaryRows m) kerasXceptionRows "rows as Keras's summary"
                    Expect.equal (Model.countParams m) 22_910_480L "total"
                    Expect.equal (Model.trainableParams m) 22_855_952L "trainable"
                    Expect.equal (Model.nonTrainableParams m) 54_528L "non-trainable")
            }
        ]
        testList "blocks" [
            test "stochastic depth is the identity in Eval mode and drops whole samples in Train mode" {
                scoped (fun () ->
                    let m = Model.build [ 2L; 3L; 3L ] (stochasticDepth 0.5)
                    let x = Torch.Ones([| 400L; 2L; 3L; 3L |])
                    Expect.sequenceEqual (values (Model.forward m x)) (values x) "Eval: identity"
                    let y, _ = Model.applyWith m m.Params m.State Train (Rng.seed 3L) (Value.T x)
                    let rows = values (Value.tensor y) |> Array.chunkBySize 18
                    for r in rows do
                        Expect.isTrue (Array.forall (fun v -> v = 0.0) r || Array.forall (fun v -> v = 2.0) r) "a sample is dropped or scaled by 1/(1-p) as a whole"
                    let kept = rows |> Array.filter (fun r -> r.[0] = 2.0) |> Array.length
                    expectInRange 160 240 kept "about half the samples survive")
            }
            test "residualSum refuses a main branch that changes the shape, naming the layer" {
                let e = expectCatch (fun () -> Model.build [ 8L; 8L; 8L ] (residualSum (conv2d 16 3) None None) |> ignore)
                expectContains "Residual" e.Message
            }
        ]
    ]
