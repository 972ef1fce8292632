namespace Dsl

open System
open System.Text
open Dsl.Engine

/// Display choices for `Summary`.
type SummaryOptions = {
    /// Show image shapes as Keras does, (None, H, W, C), instead of the tensors' own (None, C, H, W).
    ChannelsLast: bool
    /// Show the rows of nested containers (indented) instead of one row per container.
    Expand: bool
    /// Table width.
    Width: int
    /// The Trainable column (Keras's `show_trainable`): Y when a row's parameters train, N when none does, "part" when
    /// some do, blank for rows without parameters. None shows it when the model has frozen parameters.
    ShowTrainable: bool option
} with

    /// Channels first (the tensors' real layout), containers collapsed, 65 columns as Keras, the Trainable column
    /// when something is frozen.
    static member Default = { ChannelsLast = false; Expand = false; Width = 65; ShowTrainable = None }

/// Keras-style model summaries: Layer (type), Output Shape, Param #, then total, trainable and
/// non-trainable parameters and the size in MB.
module Summary =
    let private layerParams (i: LayerInfo) = Params.numel i.Params + Params.numel i.State

    let rec private showShape (o: SummaryOptions) (s: Shape) =
        match s with
        | Shape.Dims [ c; h; w ] when o.ChannelsLast -> string (Shape.Dims [ h; w; c ])
        | Shape.Heads hs -> "{" + String.Join(", ", hs |> List.map (fun (n, x) -> n + ": " + showShape o x)) + "}"
        | s -> string s

    /// Y, N, part or blank: whether a row's parameters train (frozen tensors are the model's, by reference).
    let private trainsMark (m: Model) =
        let frozen = Collections.Generic.HashSet<Tensor>(HashIdentity.Reference)
        for p, t in Tree.toList m.Params do
            if not (Model.isTrainable p m) then frozen.Add t |> ignore
        fun (i: LayerInfo) ->
            match Tree.leaves i.Params |> List.partition frozen.Contains with
            | [], [] -> ""
            | [], _ -> "Y"
            | _, [] -> "N"
            | _ -> "part"

    let private rows (o: SummaryOptions) (m: Model) =
        let top = if List.isEmpty m.Info.Children then [ m.Info ] else m.Info.Children
        let mark = trainsMark m
        let rec go depth (i: LayerInfo) =
            let row = String.replicate (2 * depth) " " + sprintf "%s (%s)" i.Name i.Kind, showShape o i.Output, layerParams i, mark i
            if o.Expand && not (List.isEmpty i.Children) then row :: List.collect (go (depth + 1)) i.Children else [ row ]
        List.collect (go 0) top

    /// The summary as text.
    let renderWith (o: SummaryOptions) (m: Model) : string =
        let sb = StringBuilder()
        let rs = rows o m
        let showTrainable = defaultArg o.ShowTrainable (not m.Frozen.IsEmpty)
        let fmtN (n: int64) = n.ToString("N0", Globalization.CultureInfo.InvariantCulture)
        let c1 = max 29 (2 + (rs |> List.map (fun (n, _, _, _) -> n.Length) |> List.fold max 0))
        let c2 = max 26 (2 + (rs |> List.map (fun (_, s, _, _) -> s.Length) |> List.fold max 0))
        let c3 = max 11 (2 + (rs |> List.map (fun (_, _, n, _) -> (fmtN n).Length) |> List.fold max 0))
        let o = { o with Width = max o.Width (c1 + c2 + (if showTrainable then c3 + 10 else 12)) }
        let line (c: char) = sb.AppendLine(String(c, o.Width)) |> ignore
        let cell (s: string) w = s.PadRight w
        sb.AppendLine(sprintf "Model: \"%s\"" m.Info.Name) |> ignore
        line '_'
        let header = " " + cell "Layer (type)" (c1 - 1) + cell "Output Shape" c2
        sb.AppendLine(if showTrainable then header + cell "Param #" c3 + "Trainable" else header + "Param #") |> ignore
        line '='
        rs
        |> List.iteri (fun i (name, shape, n, trains) ->
            let row = " " + cell name (c1 - 1) + cell shape c2
            sb.AppendLine((if showTrainable then row + cell (fmtN n) c3 + trains else row + fmtN n).TrimEnd()) |> ignore
            if i < List.length rs - 1 then sb.AppendLine() |> ignore)
        line '='
        let total, trainable = Model.countParams m, Model.trainableParams m
        let mb (b: int64) = float b / 1048576.0
        let trainableBytes = Model.trainable m |> List.sumBy (fun (_, t) -> t.Numel * int64 (t.DType.SizeOf()))
        let allBytes = Params.bytes m.Params + Params.bytes m.State
        let fmt (n: int64) = n.ToString("N0", Globalization.CultureInfo.InvariantCulture)
        sb.AppendLine(sprintf "Total params: %s (%.2f MB)" (fmt total) (mb allBytes)) |> ignore
        sb.AppendLine(sprintf "Trainable params: %s (%.2f MB)" (fmt trainable) (mb trainableBytes)) |> ignore
        sb.AppendLine(sprintf "Non-trainable params: %s (%.2f MB)" (fmt (total - trainable)) (mb (allBytes - trainableBytes))) |> ignore
        line '_'
        sb.ToString()

    /// The summary as text, with default options.
    let render (m: Model) : string = renderWith SummaryOptions.Default m

    /// Prints the summary.
    let print (m: Model) = Console.Write(render m)

    /// (row name, type, output shape, parameter count) of each top-level layer, as values.
    let table (m: Model) : (string * string * Shape * int64) list =
        let top = if List.isEmpty m.Info.Children then [ m.Info ] else m.Info.Children
        top |> List.map (fun i -> i.Name, i.Kind, i.Output, layerParams i)
