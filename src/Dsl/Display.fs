namespace Dsl

open System
open System.Globalization
open Dsl.Engine

/// Short texts for values as F# interactive shows them (`Dsl.fsx` installs them with `fsi.AddPrinter`): a tensor
/// as PyTorch's repr, a model as a few summary lines, a fit's result as its final metrics, a parameter tree as its
/// paths and shapes — instead of records dumped field by field (which also evaluated every tensor property).
module Display =
    let private count (n: int64) = n.ToString("N0", CultureInfo.InvariantCulture)
    let private shape (t: Tensor) = "[" + String.Join(", ", t.Shape) + "]"
    let private metrics (values: (string * float) list) = values |> List.map (fun (n, v) -> sprintf "%s %.4f" n v) |> String.concat ", "

    /// A tensor: PyTorch's repr, with shape, dtype, device and requires_grad.
    let tensor (t: Tensor) : string = t.ToString()

    /// A parameter tree: how many tensors and values, then each path with its shape and dtype (the first 40).
    let parameters (p: Params) : string =
        let leaves = Tree.toList p
        let shown = List.truncate 40 leaves
        let width = shown |> List.map (fst >> String.length) |> List.fold max 0
        let lines = [
            yield sprintf "Params: %d tensors, %s values" leaves.Length (count (Params.numel p))
            for path, t in shown -> sprintf "  %s  %s %s%s" (path.PadRight width) (shape t) (t.DType.Name()) (if t.RequiresGrad then "" else " (no grad)")
            if leaves.Length > shown.Length then yield sprintf "  … and %d more" (leaves.Length - shown.Length)
        ]
        String.concat "\n" lines

    /// A model: its name, input and output shapes, parameter counts, and one line per top-level layer.
    let model (m: Model) : string =
        let rows = Summary.table m
        let width = rows |> List.map (fun (n, k, _, _) -> n.Length + k.Length + 3) |> List.fold max 0
        let owidth = rows |> List.map (fun (_, _, s, _) -> (string s).Length) |> List.fold max 0
        let trainable = Model.trainableParams m
        let total = Model.countParams m
        String.concat "\n" [
            yield sprintf "Model \"%s\": %O → %O, %s parameters (%s trainable), %.2f MB, %O" m.Info.Name m.Input m.Output (count total) (count trainable) (Model.sizeMB m) m.Device
            for n, k, s, c in rows -> sprintf "  %s  %s  %s" ((sprintf "%s (%s)" n k).PadRight width) ((string s).PadRight owidth) (count c)
        ]

    /// One epoch's logs: "epoch 3: loss 0.3012, accuracy 0.8913 (12.1 s, lr 0.001)".
    let epoch (l: EpochLogs) : string = sprintf "epoch %d: %s (%.1f s, lr %g)" l.Epoch (metrics l.Values) l.Seconds l.LearningRate

    /// The result of `fit`: epochs, the final epoch's metrics, why it stopped early if it did, and the model line.
    let trained (t: Trained) : string =
        let epochs = t.History.Length
        let seconds = t.History |> List.sumBy _.Seconds
        let last =
            match List.tryLast t.History with
            | Some l -> metrics l.Values
            | None -> "no epoch finished"
        String.concat "\n" [
            yield sprintf "Trained: %d epoch%s in %.1f s; last epoch: %s" epochs (if epochs = 1 then "" else "s") seconds last
            match t.StopReason with
            | Some r -> yield "  stopped: " + r
            | None -> ()
            yield model t.Model
        ]

    /// A layer before it is built: its kind, name and sublayers.
    let layer (l: Layer) : string =
        let subs = l.Sublayers |> List.map (fun (n, s) -> if n = "" then s.Kind else sprintf "%s (%s)" n s.Kind)
        sprintf
            "Layer %s%s%s — build it with Model.build [ per-sample input shape ] to see shapes and parameters"
            l.Kind
            (match l.Name with
             | Some n -> sprintf " \"%s\"" n
             | None -> "")
            (if subs.IsEmpty then "" else sprintf " of %d: %s" subs.Length (String.concat ", " (List.truncate 12 subs) + (if subs.Length > 12 then ", …" else "")))

    /// A value: its tensor, or each head's.
    let rec value (v: Value) : string =
        match v with
        | Value.T t -> tensor t
        | Value.Heads hs -> hs |> List.map (fun (h, x) -> sprintf "%s: %s" h (value x)) |> String.concat "\n"
