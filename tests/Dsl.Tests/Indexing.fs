/// Multi-dimensional indexing from F#: the slicing syntax (`x.[*, 0..9]`, `x.[1..2, 3]`, `x.[5.., *]`, `x.[i, j]`,
/// and assignment through `<-`) and `x.Index(Index...)`, each checked against PyTorch's result for the same
/// expression in tests/fixtures/index.json; views share storage; bad ranges are refused with the fix.
module Dsl.Tests.Indexing

open System.IO
open System.Text.Json
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

/// A fixture tensor ({"shape", "dtype", "data"}) as a tensor.
let private tensorOf (e: JsonElement) : Tensor =
    let shape = [| for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]
    let data = e.GetProperty("data")
    let dtype = if e.TryGetProperty("dtype") |> fst then e.GetProperty("dtype").GetString() else "float32"
    match dtype with
    | "int64" -> Torch.From<int64>([| for v in data.EnumerateArray() -> v.GetInt64() |], shape)
    | "bool" -> Torch.From<bool>([| for v in data.EnumerateArray() -> v.GetBoolean() |], shape)
    | _ -> Torch.From<float32>([| for v in data.EnumerateArray() -> float32 (v.GetDouble()) |], shape)

let private cases =
    lazy
        (let doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(System.AppContext.BaseDirectory, "fixtures", "index.json")))
         [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() -> c.GetProperty("name").GetString(), c ] |> Map.ofList)

/// Runs `f` on the inputs of fixture case `name` and compares its result with PyTorch's (shape and values, exactly).
let private against (name: string) (f: Tensor[] -> Tensor) =
    scoped (fun () ->
        let c = cases.Force().[name]
        let inputs = [| for i in c.GetProperty("inputs").EnumerateArray() -> tensorOf i |]
        let got = f inputs
        let expected = tensorOf (c.GetProperty("output"))
        expectEqual (name + ": shape") expected.Shape got.Shape
        expectEqual (name + ": values") (values expected) (values got))

/// F# expression ↔ fixture case (the Python expression is in the case's args).
let private reads: (string * string * (Tensor[] -> Tensor)) list = [
    "x.[*, 0..9]", "index_all_0to10_4x12", fun t -> t.[0].[*, 0..9]
    "x.[0, *]", "index_0_all_4x5", fun t -> t.[0].[0, *]
    "x.[1..2, 3]", "index_1to3_3_4x5", fun t -> t.[0].[1..2, 3]
    "x.[5.., *]", "index_5on_all_8x3", fun t -> t.[0].[5.., *]
    "x.[..2]", "index_upto3_8x3", fun t -> t.[0].[..2]
    "x.[-1]", "index_neg1_4x5", fun t -> t.[0].[-1]
    "x.[1, 2]", "index_1_2_3x4x5", fun t -> t.[0].[1, 2]
    "x.Index(Slice(), Slice(-3, -1))", "index_neg_slice_4x5", fun t -> t.[0].Index(Index.Slice(), Index.Slice(-3, -1))
    "x.[1..99] (clamped)", "index_clamped_stop_3x4", fun t -> t.[0].[1..99]
    "x.[2..1] (empty)", "index_empty_slice_3x4", fun t -> t.[0].[2..1]
    "x.Index(Ellipsis, Single 0)", "index_ellipsis_0_3x4x5", fun t -> t.[0].Index(Index.Ellipsis, Index.Single 0)
    "x.Index(NewAxis, Slice(), NewAxis, Single 1)", "index_newaxis_3x4", fun t -> t.[0].Index(Index.NewAxis, Index.Slice(), Index.NewAxis, Index.Single 1)
    "x.Index(Slice(), Single 1, Slice(1, 4, 2), Single -2)", "index_4d_mixed_2x3x4x5", fun t -> t.[0].Index(Index.Slice(), Index.Single 1, Index.Slice(1, 4, 2), Index.Single -2)
    "x.Index(Slice(step = 2), Single 1)", "index_step2_7x3", fun t -> t.[0].Index(Index.Slice(step = 2), Index.Single 1)
    "x.Index(Tensor mask)", "index_mask_3x4", fun t -> t.[0].Index(Index.Tensor t.[1])
    "x.Index(Slice(), Tensor idx)", "index_tensor_cols_3x5", fun t -> t.[0].Index(Index.Slice(), Index.Tensor t.[1])
]

/// F# assignments ↔ fixture case (input 0 is x, input 1 the value).
let private writes: (string * string * (Tensor -> Tensor -> unit)) list = [
    "y.[*, 0..1] <- v", "index_put_all_0to2_3x5", fun y v -> y.[*, 0..1] <- v
    "y.[1, *] <- v", "index_put_row1_broadcast_3x5", fun y v -> y.[1, *] <- v
    "y.[*, 4] <- v", "index_put_col_scalar_3x5", fun y v -> y.[*, 4] <- v
    "y.[*, *, 1..2] <- v", "index_put_ellipsis_2x3x4", fun y v -> y.[*, *, 1..2] <- v
]

/// This module's tests, the Expecto list "Indexing".
[<Tests>]
let tests =
    testList "Indexing" [
        testList "reads match PyTorch" [ for what, name, f in reads -> testCase (sprintf "%s = %s" what name) (fun () -> against name f) ]
        testList "writes match PyTorch" [
            for what, name, f in writes ->
                testCase (sprintf "%s = %s" what name) (fun () ->
                    against name (fun t ->
                        let y = t.[0].Detach().Clone()
                        f y (t.[1].Detach())
                        y))
        ]
        testCase "slices and positions are views of the same storage; the live-tensor count returns to its baseline" (fun () ->
            let baseline = Tensor.LiveCount
            scoped (fun () ->
                let x = Torch.Zeros([| 3L; 4L |])
                x.[1, *].Fill_(5.0) |> ignore
                x.[*, 3].Fill_(7.0) |> ignore
                x.[0, 0].Fill_(-1.0) |> ignore
                expectEqual "x after writing through views" [| -1.0; 0.0; 0.0; 7.0; 5.0; 5.0; 5.0; 7.0; 0.0; 0.0; 0.0; 7.0 |] (values x)
                x.[0..1, 1..2] <- Torch.Ones([| 2L; 2L |])
                expectEqual "x after SetSlice" [| -1.0; 1.0; 1.0; 7.0; 5.0; 1.0; 1.0; 7.0; 0.0; 0.0; 0.0; 7.0 |] (values x))
            expectEqual "live tensors after the scope" baseline Tensor.LiveCount)
        testCase "the gradient flows through a slice" (fun () ->
            scoped (fun () ->
                let x = Torch.Ones([| 2L; 3L |], DType.Float32, requiresGrad = true)
                (x.[*, 1..2] * 3.0).Sum().Backward()
                match x.Grad with
                | null -> failtest "x has no gradient"
                | g -> expectEqual "grad" [| 0.0; 3.0; 3.0; 0.0; 3.0; 3.0 |] (values g)))
        testCase "a negative range bound is refused with the fix" (fun () ->
            scoped (fun () ->
                let x = Torch.Zeros([| 3L; 4L |])
                try
                    x.[*, -2 .. 3] |> ignore
                    failtest "x.[*, -2..3] was accepted"
                with :? System.ArgumentException as e ->
                    expectContains "dim 1 has start -2" e.Message
                    expectContains "Fix:" e.Message))
    ]
