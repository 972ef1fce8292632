/// Exact reproductions of known model summaries (Keras-style rows, per-layer output shapes and
/// parameter counts, totals), and the ShapeError a malformed model raises at build time.
module Dsl.Tests.Summaries

open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

let private reluConv (filters: int) = conv2dWith { ConvOptions.Default with Activation = Some Activation.relu } filters (3, 3)
let private sameConv (filters: int) = conv2dWith { ConvOptions.Default with Padding = Same; Activation = Some Activation.relu } filters (3, 3)
let private reluDense (units: int) = denseWith { DenseOptions.Default with Activation = Some Activation.relu } units

/// Rows as (name, output shape, params), dropping the kind.
let private rows (m: Model) = Summary.table m |> List.map (fun (n, _, s, p) -> n, s, p)

let private checkTotals (m: Model) (total: int64) =
    expectEqual "countParams" total (Model.countParams m)
    expectEqual "trainableParams" total (Model.trainableParams m)
    expectEqual "nonTrainableParams" 0L (Model.nonTrainableParams m)
    let text = Summary.render m
    let fmt (n: int64) = n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)
    expectContains (sprintf "Total params: %s" (fmt total)) text
    expectContains (sprintf "Trainable params: %s" (fmt total)) text
    expectContains "Non-trainable params: 0 " text

let private shapeErrorOf (shape: int64 list) (layer: Layer) : string * string * Shape * string =
    try
        let m = Model.build shape layer
        Model.dispose m
        failtest "expected Model.build to raise a ShapeError"
        failwith "unreachable"
    with ShapeError(path, kind, received, _, _) as e ->
        path, kind, received, e.Message

/// This module's tests, the Expecto list "Summaries" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Summaries" [
        testCase "seed 003 Fashion-MNIST CNN summary is exact"
        <| fun () ->
            scoped (fun () ->
                let net = serial [ reluConv 32; maxPool 2; reluConv 64; maxPool 2; reluConv 64; flatten; reluDense 64; dense 10 ]
                let m = Model.build [ 1L; 28L; 28L ] net
                let expected = [
                    "conv2d", dims [ 32L; 26L; 26L ], 320L
                    "max_pooling2d", dims [ 32L; 13L; 13L ], 0L
                    "conv2d_1", dims [ 64L; 11L; 11L ], 18496L
                    "max_pooling2d_1", dims [ 64L; 5L; 5L ], 0L
                    "conv2d_2", dims [ 64L; 3L; 3L ], 36928L
                    "flatten", dims [ 576L ], 0L
                    "dense", dims [ 64L ], 36928L
                    "dense_1", dims [ 10L ], 650L
                ]
                expectEqual "summary rows" expected (rows m)
                expectEqual
                    "layer kinds"
                    [ "Conv2D"; "MaxPooling2D"; "Conv2D"; "MaxPooling2D"; "Conv2D"; "Flatten"; "Dense"; "Dense" ]
                    (Summary.table m |> List.map (fun (_, k, _, _) -> k))
                expectEqual "first shape as text" "(None, 32, 26, 26)" (string (Summary.table m |> List.head |> fun (_, _, s, _) -> s))
                expectEqual "model output" (dims [ 10L ]) m.Output
                checkTotals m 93322L
                let text = Summary.render m
                expectContains "(None, 32, 26, 26)" text
                expectContains "18,496" text
                let channelsLast = Summary.renderWith { SummaryOptions.Default with ChannelsLast = true } m
                expectContains "(None, 26, 26, 32)" channelsLast
                expectContains "(None, 3, 3, 64)" channelsLast
                expectContains "(None, 576)" channelsLast
                expectNotContains "(None, 32, 26, 26)" channelsLast
                // The inferred shape is the real one.
                use x = Torch.Zeros(2L, 1L, 28L, 28L)
                expectEqual "forward shape" [| 2L; 10L |] (Model.forward m x).Shape)

        testCase "seed 001 CIFAR-10 CNN summary is exact"
        <| fun () ->
            scoped (fun () ->
                let net = serial [ sameConv 32; sameConv 32; maxPool 2; sameConv 64; maxPool 2; sameConv 128; maxPool 2; flatten; dense 10 ]
                let m = Model.build [ 3L; 32L; 32L ] net
                let expected = [
                    "conv2d", dims [ 32L; 32L; 32L ], 896L
                    "conv2d_1", dims [ 32L; 32L; 32L ], 9248L
                    "max_pooling2d", dims [ 32L; 16L; 16L ], 0L
                    "conv2d_2", dims [ 64L; 16L; 16L ], 18496L
                    "max_pooling2d_1", dims [ 64L; 8L; 8L ], 0L
                    "conv2d_3", dims [ 128L; 8L; 8L ], 73856L
                    "max_pooling2d_2", dims [ 128L; 4L; 4L ], 0L
                    "flatten", dims [ 2048L ], 0L
                    "dense", dims [ 10L ], 20490L
                ]
                expectEqual "summary rows" expected (rows m)
                checkTotals m 122986L
                use x = Torch.Zeros(2L, 3L, 32L, 32L)
                expectEqual "forward shape" [| 2L; 10L |] (Model.forward m x).Shape)

        testCase "784-128-10 MLP has 101,770 parameters"
        <| fun () ->
            scoped (fun () ->
                let m = Model.build [ 1L; 28L; 28L ] (serial [ flatten; reluDense 128; dense 10 ])
                expectEqual "summary rows" [ "flatten", dims [ 784L ], 0L; "dense", dims [ 128L ], 100480L; "dense_1", dims [ 10L ], 1290L ] (rows m)
                checkTotals m 101770L)

        testCase "VGG-11 (seed 000 Q6) shapes and parameter counts are exact"
        <| fun () ->
            let conv f = conv2dWith { ConvOptions.Default with Padding = Pad 1 } f (3, 3)
            let pool = maxPoolWith { PoolOptions.Default with Stride = Some 2 } 2
            let net =
                serial [
                    conv 64
                    relu
                    pool
                    conv 128
                    relu
                    pool
                    conv 256
                    relu
                    conv 256
                    relu
                    pool
                    conv 512
                    relu
                    conv 512
                    relu
                    pool
                    conv 512
                    relu
                    conv 512
                    relu
                    pool
                    flatten
                    dense 4096
                    dense 4096
                    dense 1000
                    softmax
                ]
            let sw = System.Diagnostics.Stopwatch.StartNew()
            let m = Model.buildWith { BuildOptions.Default with Seed = 0L } (dims [ 3L; 224L; 224L ]) net
            try
                printfn "VGG-11 build: %d ms" sw.ElapsedMilliseconds
                let table = Summary.table m
                // Every intermediate output: spatial 224 → 112 → 56 → 28 → 14 → 7, channels 64 … 512.
                let expectedShapes =
                    [
                        [ 64L; 224L; 224L ]
                        [ 64L; 224L; 224L ]
                        [ 64L; 112L; 112L ]
                        [ 128L; 112L; 112L ]
                        [ 128L; 112L; 112L ]
                        [ 128L; 56L; 56L ]
                        [ 256L; 56L; 56L ]
                        [ 256L; 56L; 56L ]
                        [ 256L; 56L; 56L ]
                        [ 256L; 56L; 56L ]
                        [ 256L; 28L; 28L ]
                        [ 512L; 28L; 28L ]
                        [ 512L; 28L; 28L ]
                        [ 512L; 28L; 28L ]
                        [ 512L; 28L; 28L ]
                        [ 512L; 14L; 14L ]
                        [ 512L; 14L; 14L ]
                        [ 512L; 14L; 14L ]
                        [ 512L; 14L; 14L ]
                        [ 512L; 14L; 14L ]
                        [ 512L; 7L; 7L ]
                        [ 25088L ]
                        [ 4096L ]
                        [ 4096L ]
                        [ 1000L ]
                        [ 1000L ]
                    ]
                    |> List.map dims
                expectEqual "output shapes" expectedShapes (table |> List.map (fun (_, _, s, _) -> s))
                let weighted = table |> List.filter (fun (_, k, _, _) -> k = "Conv2D" || k = "Dense")
                expectEqual
                    "conv/dense params"
                    [ 1792L; 73856L; 295168L; 590080L; 1180160L; 2359808L; 2359808L; 2359808L; 102764544L; 16781312L; 4097000L ]
                    (weighted |> List.map (fun (_, _, _, p) -> p))
                expectEqual
                    "conv/dense names"
                    [ "conv2d"; "conv2d_1"; "conv2d_2"; "conv2d_3"; "conv2d_4"; "conv2d_5"; "conv2d_6"; "conv2d_7"; "dense"; "dense_1"; "dense_2" ]
                    (weighted |> List.map (fun (n, _, _, _) -> n))
                expectEqual "params of other layers" 0L (table |> List.filter (fun (_, k, _, _) -> k <> "Conv2D" && k <> "Dense") |> List.sumBy (fun (_, _, _, p) -> p))
                expectEqual "last layer" "Softmax" (table |> List.last |> fun (_, k, _, _) -> k)
                expectEqual "countParams" 132863336L (Model.countParams m)
                expectEqual "trainableParams" 132863336L (Model.trainableParams m)
                expectContains "Total params: 132,863,336" (Summary.render m)
                expectEqual "sizeMB" (float 132863336L * 4.0 / 1048576.0) (Model.sizeMB m)
            finally
                Model.dispose m

        testCase "dense fed an image without flatten fails at build with a ShapeError"
        <| fun () ->
            let path, kind, received, msg = shapeErrorOf [ 28L; 28L ] (serial [ dense 10 ])
            expectEqual "path" "dense" path
            expectEqual "kind" "Dense" kind
            expectEqual "received" (dims [ 28L; 28L ]) received
            expectContains "'dense'" msg
            expectContains "(None, 28, 28)" msg
            expectContains "(None, features)" msg
            expectContains "flatten" msg

        testCase "a bare dense fed an image fails with the model as its path"
        <| fun () ->
            let path, _, _, msg = shapeErrorOf [ 28L; 28L ] (dense 10)
            expectEqual "path" "" path
            expectContains "<model>" msg
            expectContains "(None, 28, 28)" msg
            expectContains "flatten" msg

        testCase "a named layer in a serial is reported by its name"
        <| fun () ->
            let path, _, received, msg = shapeErrorOf [ 28L; 28L ] (serial [ identity; named "head" (dense 10) ])
            expectEqual "path" "head" path
            expectEqual "received" (dims [ 28L; 28L ]) received
            expectContains "'head'" msg
            expectContains "(None, 28, 28)" msg
            expectContains "(None, features)" msg
            expectContains "flatten" msg

        testCase "nested named containers give a dotted path"
        <| fun () ->
            let net = named "body" (serial [ reluConv 8; named "head" (dense 10) ])
            let path, _, received, msg = shapeErrorOf [ 1L; 28L; 28L ] net
            expectEqual "path" "body.head" path
            expectEqual "received" (dims [ 8L; 26L; 26L ]) received
            expectContains "'body.head'" msg
            expectContains "(None, 8, 26, 26)" msg
            expectContains "flatten" msg
    ]
