/// Multi-dimensional indexing and slicing of tensors in F#: `x.[*, 0..9]`, `x.[0, *]`, `x.[1..2, 3]`, `x.[5.., *]`,
/// `x.[i, j]`, and the same on the left of `<-`, for 1 to 4 dims; `Index` builds the general form (slices with steps,
/// the ellipsis, new axes, index tensors and masks) for `x.Index(...)`.
///
/// F# ranges are inclusive, as for F# arrays: `x.[*, 0..9]` is PyTorch's `x[:, 0:10]` (10 columns). Range bounds must
/// be ≥ 0 (F#'s from-the-end `^` needs a preview language version); for bounds from the end use
/// `x.Index(Index.Slice(-3, -1))`. Integer positions (`x.[i, j]`, `x.[-1]`) may be negative, as in PyTorch. Slices
/// and positions give views that share x's storage, as torch's do; index tensors and masks give copies.
[<AutoOpen>]
module Dsl.TensorIndexing

open System
open Dsl.Engine

/// The entries of `x.Index(...)`, as TorchSharp's `TensorIndex` (which they return). `Slice` is Python's
/// `start:stop:step` (stop excluded, unlike F# ranges).
[<AbstractClass; Sealed>]
type Index =
    /// Python's `start:stop:step`: stop is excluded, absent ends are open, negative ends count from the end, step > 0.
    static member Slice(?start: int, ?stop: int, ?step: int) : TensorIndex =
        TensorIndex.Slice(
            (match start with
             | Some s -> Nullable(int64 s)
             | None -> Nullable()),
            (match stop with
             | Some s -> Nullable(int64 s)
             | None -> Nullable()),
            int64 (defaultArg step 1)
        )

    /// One position of a dim (negative counts from the end); the dim is removed.
    static member Single(index: int) : TensorIndex = TensorIndex.Single(int64 index)

    /// Python's `...`: the dims the other entries do not name, unchanged.
    static member Ellipsis: TensorIndex = TensorIndex.Ellipsis

    /// Python's `None`: a new dim of size 1.
    static member NewAxis: TensorIndex = TensorIndex.NewAxis

    /// An int64 index tensor (picks those positions, a copy) or a bool mask (picks the true elements).
    static member Tensor(indices: Tensor) : TensorIndex = TensorIndex.Tensor indices

let private range (dim: int) (start: int option) (finish: int option) : TensorIndex =
    let check (what: string) (v: int option) =
        match v with
        | Some b when b < 0 ->
            invalidArg
                what
                (sprintf
                    "tensor slicing: the range of dim %d has %s %d; F# range bounds must be >= 0. Fix: use x.Index(Index.Slice(start, stop)) for Python-style negative bounds (Index.Slice(-3, -1) is x[-3:-1]; its stop is excluded)."
                    dim
                    what
                    b)
        | _ -> ()

    check "start" start
    check "end" finish

    TensorIndex.Slice(
        (match start with
         | Some s -> Nullable(int64 s)
         | None -> Nullable()),
        (match finish with
         | Some e -> Nullable(int64 e + 1L)
         | None -> Nullable()),
        1L
    )

type Tensor with

    /// x.[a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option) = x.Index([| range 0 s0 e0 |])
    /// x.[a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, value: Tensor) = x.IndexPut_(value, [| range 0 s0 e0 |]) |> ignore
    /// x.[a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option) = x.Index([| range 0 s0 e0; range 1 s1 e1 |])
    /// x.[a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, value: Tensor) = x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1 |]) |> ignore
    /// x.[a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int) = x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1) |])
    /// x.[a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, value: Tensor) = x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1) |]) |> ignore
    /// x.[i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option) = x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1 |])
    /// x.[i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, value: Tensor) = x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1 |]) |> ignore
    /// x.[a..b, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option) = x.Index([| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2 |])
    /// x.[a..b, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2 |]) |> ignore
    /// x.[a..b, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int) = x.Index([| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2) |])
    /// x.[a..b, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2) |]) |> ignore
    /// x.[a..b, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option) = x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2 |])
    /// x.[a..b, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2 |]) |> ignore
    /// x.[a..b, i, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, i2: int) = x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2) |])
    /// x.[a..b, i, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, i2: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2) |]) |> ignore
    /// x.[i, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option) = x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2 |])
    /// x.[i, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2 |]) |> ignore
    /// x.[i, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, i2: int) = x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2) |])
    /// x.[i, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, i2: int, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2) |]) |> ignore
    /// x.[i, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, i1: int, s2: int option, e2: int option) = x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2 |])
    /// x.[i, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, i1: int, s2: int option, e2: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2 |]) |> ignore
    /// x.[a..b, a..b, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option, s3: int option, e3: int option) =
        x.Index([| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2; range 3 s3 e3 |])
    /// x.[a..b, a..b, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2; range 3 s3 e3 |]) |> ignore
    /// x.[a..b, a..b, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option, i3: int) =
        x.Index([| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2; TensorIndex.Single(int64 i3) |])
    /// x.[a..b, a..b, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, s2: int option, e2: int option, i3: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; range 2 s2 e2; TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[a..b, a..b, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int, s3: int option, e3: int option) =
        x.Index([| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2); range 3 s3 e3 |])
    /// x.[a..b, a..b, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2); range 3 s3 e3 |]) |> ignore
    /// x.[a..b, a..b, i, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int, i3: int) =
        x.Index([| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |])
    /// x.[a..b, a..b, i, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, s1: int option, e1: int option, i2: int, i3: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; range 1 s1 e1; TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[a..b, i, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option, s3: int option, e3: int option) =
        x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2; range 3 s3 e3 |])
    /// x.[a..b, i, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2; range 3 s3 e3 |]) |> ignore
    /// x.[a..b, i, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option, i3: int) =
        x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2; TensorIndex.Single(int64 i3) |])
    /// x.[a..b, i, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, s2: int option, e2: int option, i3: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); range 2 s2 e2; TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[a..b, i, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, i2: int, s3: int option, e3: int option) =
        x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); range 3 s3 e3 |])
    /// x.[a..b, i, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, i2: int, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); range 3 s3 e3 |]) |> ignore
    /// x.[a..b, i, i, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(s0: int option, e0: int option, i1: int, i2: int, i3: int) =
        x.Index([| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |])
    /// x.[a..b, i, i, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(s0: int option, e0: int option, i1: int, i2: int, i3: int, value: Tensor) =
        x.IndexPut_(value, [| range 0 s0 e0; TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[i, a..b, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option, s3: int option, e3: int option) =
        x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2; range 3 s3 e3 |])
    /// x.[i, a..b, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2; range 3 s3 e3 |]) |> ignore
    /// x.[i, a..b, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option, i3: int) =
        x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2; TensorIndex.Single(int64 i3) |])
    /// x.[i, a..b, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, s2: int option, e2: int option, i3: int, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; range 2 s2 e2; TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[i, a..b, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, i2: int, s3: int option, e3: int option) =
        x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2); range 3 s3 e3 |])
    /// x.[i, a..b, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, i2: int, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2); range 3 s3 e3 |]) |> ignore
    /// x.[i, a..b, i, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, s1: int option, e1: int option, i2: int, i3: int) =
        x.Index([| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |])
    /// x.[i, a..b, i, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, s1: int option, e1: int option, i2: int, i3: int, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); range 1 s1 e1; TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[i, i, a..b, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, i1: int, s2: int option, e2: int option, s3: int option, e3: int option) =
        x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2; range 3 s3 e3 |])
    /// x.[i, i, a..b, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, i1: int, s2: int option, e2: int option, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2; range 3 s3 e3 |]) |> ignore
    /// x.[i, i, a..b, i]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, i1: int, s2: int option, e2: int option, i3: int) =
        x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2; TensorIndex.Single(int64 i3) |])
    /// x.[i, i, a..b, i] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, i1: int, s2: int option, e2: int option, i3: int, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); range 2 s2 e2; TensorIndex.Single(int64 i3) |]) |> ignore
    /// x.[i, i, i, a..b]: ranges are inclusive (F#'s convention), open ends (`*`, `a..`, `..b`) reach the edge; a view.
    member x.GetSlice(i0: int, i1: int, i2: int, s3: int option, e3: int option) =
        x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); range 3 s3 e3 |])
    /// x.[i, i, i, a..b] <- value: writes `value` (broadcast) into the sliced part of x.
    member x.SetSlice(i0: int, i1: int, i2: int, s3: int option, e3: int option, value: Tensor) =
        x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); range 3 s3 e3 |]) |> ignore
    /// x.[i, i] with 2 integer positions (negative counts from the end): a view of rank 2 less.
    member x.Item
        with get (i0: int, i1: int) = x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1) |])
        and set (i0: int, i1: int) (value: Tensor) = x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1) |]) |> ignore
    /// x.[i, i, i] with 3 integer positions (negative counts from the end): a view of rank 3 less.
    member x.Item
        with get (i0: int, i1: int, i2: int) = x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2) |])
        and set (i0: int, i1: int, i2: int) (value: Tensor) =
            x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2) |]) |> ignore
    /// x.[i, i, i, i] with 4 integer positions (negative counts from the end): a view of rank 4 less.
    member x.Item
        with get (i0: int, i1: int, i2: int, i3: int) =
            x.Index([| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |])
        and set (i0: int, i1: int, i2: int, i3: int) (value: Tensor) =
            x.IndexPut_(value, [| TensorIndex.Single(int64 i0); TensorIndex.Single(int64 i1); TensorIndex.Single(int64 i2); TensorIndex.Single(int64 i3) |]) |> ignore
