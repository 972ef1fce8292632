/// Weights in and out: Model.loadWeights from real torch.save files and Keras-layout HDF5 files (made by
/// tests/fixtures/make_weights_fixtures.py) with the forward pass checked against torch's (≤ 1e-5), strict and
/// non-strict loading with name maps, and Model.save/load round trips that refuse another architecture.
module Dsl.Tests.WeightFiles

open System.IO
open System.Text.Json
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

let private fixtures = Path.Combine(System.AppContext.BaseDirectory, "fixtures")
let private cases = lazy (JsonDocument.Parse(File.ReadAllText(Path.Combine(fixtures, "weights.json"))).RootElement)
let private case (name: string) = cases.Force().GetProperty name

let private tensorOf (e: JsonElement) =
    let shape = [ for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt64() ]
    f32 shape [| for v in e.GetProperty("data").EnumerateArray() -> float32 (v.GetDouble()) |]

let private expected (e: JsonElement) = [| for v in e.GetProperty("output").GetProperty("data").EnumerateArray() -> v.GetDouble() |]

/// Loads the case's file into the model (strict), runs the case's input and compares with torch's output.
let private forwardMatches (name: string) (net: Layer) (input: int64 list) =
    let c = case name
    let baseline = Tensor.LiveCount
    scoped (fun () ->
        let m = Model.build input net
        let w = Weights.read (Path.Combine(fixtures, c.GetProperty("file").GetString() |> nonNull))
        let report = m |> Model.loadWeights LoadWeightsOptions.Default w
        Weights.dispose w
        expectEqual "every model path is loaded" (Tree.paths m.Params @ Tree.paths m.State |> Set.ofList) (Set.ofList report.Loaded)
        let y = Model.forward m (tensorOf (c.GetProperty "input"))
        let diff = maxAbsDiff (values y) (expected c)
        Expect.isLessThanOrEqual diff 1e-5 (sprintf "%s: |Dsl − torch| = %g" name diff)
        Model.dispose m
        report)
    |> fun r ->
        expectEqual "live tensors return to the baseline" baseline Tensor.LiveCount
        r

let private mlp (classes: int) = serial [ named "fc1" (dense 8); named "bn" batchNorm; relu; named "fc2" (dense classes) ]

let private cnn = serial [ named "conv" (conv2dWith { ConvOptions.Default with Padding = Pad 1 } 4 (3, 3)); named "bn" batchNorm; relu; flatten; named "fc" (dense 3) ]

let private kerasBn = batchNormWith { BatchNormOptions.Default with Eps = 1e-3 }

let private same = { ConvOptions.Default with Padding = Same }

let private mlpFile () = Weights.read (Path.Combine(fixtures, "weights", "mlp.pth"))

let private copies (m: Model) = Tree.toList m.Params |> List.map (fun (p, t) -> p, values t)

[<Tests>]
let tests =
    testList "WeightFiles" [
        test "a torch.save state dict loads into dense and batch norm layers; the forward equals torch's" {
            let r = forwardMatches "mlp" (mlp 3) [ 4L ]
            expectEqual "num_batches_tracked is ignored" [ "bn.num_batches_tracked" ] r.Ignored
            expectEqual "nothing missing or unexpected" ([], [], []) (r.Missing, r.Unexpected, r.WrongShape)
        }
        test "a conv + batch norm state dict loads; the forward equals torch's" { forwardMatches "cnn" cnn [ 2L; 5L; 5L ] |> ignore }
        test "a float16 state dict loads into a float32 model" { forwardMatches "cnn_half" cnn [ 2L; 5L; 5L ] |> ignore }
        test "a Keras whole-model .h5 loads (kernels transposed, gamma/beta/moving statistics mapped)" {
            forwardMatches "keras_mlp" (serial [ named "dense" (dense 8); named "batch_normalization" kerasBn; relu; named "dense_1" (dense 3) ]) [ 4L ] |> ignore
        }
        test "a Keras save_weights .h5 loads (HWIO conv and HWCM depthwise kernels converted)" {
            let net =
                serial [
                    named "conv2d" (conv2dWith same 4 (3, 3))
                    named "depthwise_conv2d" (depthwiseConv2dWith same 2 3)
                    named "batch_normalization" kerasBn
                    relu
                    globalAvgPool
                    named "dense" (dense 3)
                ]
            forwardMatches "keras_cnn" net [ 2L; 6L; 6L ] |> ignore
        }
        test "strict loading into another width names the path and both shapes and changes nothing" {
            scoped (fun () ->
                let m = Model.build [ 4L ] (mlp 5)
                let before = copies m
                let w = mlpFile ()
                let e = expectThrows<InvalidDataException>(fun () -> m |> Model.loadWeights LoadWeightsOptions.Default w |> ignore)
                expectContains "'fc2.weight' has shape [3, 8] in the weights but [5, 8] in the model" e.Message
                expectContains "Strict = false" e.Message
                expectEqual "the model is unchanged" before (copies m)
                Weights.dispose w)
        }
        test "non-strict loading loads what fits and reports wrong shapes, missing and unexpected names" {
            scoped (fun () ->
                let net = serial [ named "fc1" (dense 8); named "bn" batchNorm; relu; named "fc2" (dense 5); named "extra" (dense 2) ]
                let m = Model.build [ 4L ] net
                let w = mlpFile ()
                let w = w @ [ "head.weight", Torch.Zeros([| 2L |]) ]
                let r = m |> Model.loadWeights { LoadWeightsOptions.Default with Strict = false } w
                expectEqual "wrong shapes" [ "fc2.weight", [ 3L; 8L ], [ 5L; 8L ]; "fc2.bias", [ 3L ], [ 5L ] ] r.WrongShape
                expectEqual "missing (a wrong shape is not also missing, as in PyTorch)" [ "extra.weight"; "extra.bias" ] r.Missing
                expectEqual "unexpected" [ "head.weight" ] r.Unexpected
                expectEqual "loaded" [ "fc1.weight"; "fc1.bias"; "bn.weight"; "bn.bias"; "bn.running_mean"; "bn.running_var" ] r.Loaded
                let src = w |> List.find (fst >> (=) "fc1.weight") |> snd
                expectEqual "fc1.weight holds the file's values" (values src) (values (Tree.find "fc1.weight" m.Params))
                Weights.dispose w)
        }
        test "a name table or function maps torch names onto auto-named layers" {
            scoped (fun () ->
                let net = serial [ dense 8; batchNorm; relu; dense 3 ]
                let table = [
                    for layer, dsl in [ "fc1", "dense"; "bn", "batch_normalization"; "fc2", "dense_1" ] do
                        for p in [ "weight"; "bias"; "running_mean"; "running_var" ] -> layer + "." + p, dsl + "." + p
                ]
                let w = mlpFile ()
                for names in [ WeightNames.Table table; WeightNames.Rename(fun n -> table |> List.tryFind (fst >> (=) n) |> Option.map snd |> Option.defaultValue n) ] do
                    let m = Model.build [ 4L ] net
                    let r = m |> Model.loadWeights { LoadWeightsOptions.Default with Names = names } w
                    expectEqual "all eight loaded" 8 r.Loaded.Length
                    let c = case "mlp"
                    let diff = maxAbsDiff (values (Model.forward m (tensorOf (c.GetProperty "input")))) (expected c)
                    Expect.isLessThanOrEqual diff 1e-5 "forward equals torch's"
                let e =
                    expectThrows<System.ArgumentException>(fun () ->
                        Model.build [ 4L ] net |> Model.loadWeights { LoadWeightsOptions.Default with Names = WeightNames.Rename(fun _ -> "dense.weight") } w |> ignore)
                expectContains "all map to 'dense.weight'" e.Message
                Weights.dispose w)
        }
        test "strict loading names a missing path, then an unexpected name" {
            scoped (fun () ->
                let w = mlpFile ()
                let bigger = Model.build [ 4L ] (serial [ named "fc1" (dense 8); named "bn" batchNorm; relu; named "fc2" (dense 3); named "out" (dense 2) ])
                let e = expectThrows<InvalidDataException>(fun () -> bigger |> Model.loadWeights LoadWeightsOptions.Default w |> ignore)
                expectContains "the model's 'out.weight' (shape [2, 3]) has no weight in the source" e.Message
                let smaller = Model.build [ 4L ] (serial [ named "fc1" (dense 8); named "bn" batchNorm ])
                let e = expectThrows<InvalidDataException>(fun () -> smaller |> Model.loadWeights LoadWeightsOptions.Default w |> ignore)
                expectContains "the source's 'fc2.weight' (shape [3, 8]) matches no path of the model" e.Message
                Weights.dispose w)
        }
        test "Model.save then Model.load round-trips parameters, state, frozen paths and the forward" {
            let baseline = Tensor.LiveCount
            let dir = Directory.CreateTempSubdirectory("dsl-model-").FullName
            scoped (fun () ->
                let path = Path.Combine(dir, "m.safetensors")
                let m = Model.buildSeeded 3L [ 4L ] (mlp 3) |> Model.freeze [ "fc1" ]
                let w = mlpFile ()
                m |> Model.loadWeights LoadWeightsOptions.Default w |> ignore
                Weights.dispose w
                Model.save path m
                let back = Model.load path (mlp 3)
                expectEqual "parameters" (copies m) (copies back)
                expectEqual "state" (Tree.toList m.State |> List.map (fun (p, t) -> p, values t)) (Tree.toList back.State |> List.map (fun (p, t) -> p, values t))
                expectEqual "frozen" m.Frozen back.Frozen
                let x = tensorOf ((case "mlp").GetProperty "input")
                expectEqual "forward" (values (Model.forward m x)) (values (Model.forward back x))
                let d = JsonDocument.Parse(Model.describe m).RootElement
                expectEqual "input" "[4]" (d.GetProperty("input").GetRawText())
                expectEqual "output" "[3]" (d.GetProperty("output").GetRawText())
                expectEqual "first param" """{"path":"fc1.weight","shape":[8,4],"dtype":"float32"}""" (d.GetProperty("params").[0].GetRawText())
                expectEqual "summary rows" 4 (d.GetProperty("summary").GetArrayLength())
                Model.dispose m
                Model.dispose back)
            Directory.Delete(dir, true)
            expectEqual "live tensors return to the baseline" baseline Tensor.LiveCount
        }
        test "Model.load refuses a 3-class file for a 5-class architecture, naming the path and both shapes" {
            let baseline = Tensor.LiveCount
            let dir = Directory.CreateTempSubdirectory("dsl-model-").FullName
            scoped (fun () ->
                let path = Path.Combine(dir, "m3.safetensors")
                let m3 = Model.build [ 4L ] (mlp 3)
                Model.save path m3
                let e = expectThrows<InvalidDataException>(fun () -> Model.load path (mlp 5) |> ignore)
                expectContains "in its parameters 'fc2.weight' has shape [3, 8] but the model's is [5, 8]" e.Message
                let m5 = Model.build [ 4L ] (mlp 5)
                let before = copies m5
                expectThrows<InvalidDataException>(fun () -> Model.loadInto path m5) |> ignore
                expectEqual "loadInto changed nothing" before (copies m5)
                let wide = Model.build [ 6L ] (mlp 3)
                let e = expectThrows<InvalidDataException>(fun () -> Model.loadInto path wide)
                expectContains "was saved for inputs (None, 4), but the model takes (None, 6)" e.Message
                // a damaged file fails its hash
                let bytes = File.ReadAllBytes path
                bytes.[bytes.Length - 3] <- bytes.[bytes.Length - 3] ^^^ 0xFFuy
                File.WriteAllBytes(path, bytes)
                expectContains "SHA-256" (expectThrows<InvalidDataException>(fun () -> Model.loadInto path m3)).Message
                Model.dispose m3
                Model.dispose m5
                Model.dispose wide)
            Directory.Delete(dir, true)
            expectEqual "live tensors return to the baseline" baseline Tensor.LiveCount
        }
    ]
