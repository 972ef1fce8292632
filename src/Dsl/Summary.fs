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
} with

    /// Channels first (the tensors' real layout), containers collapsed, 65 columns as Keras.
    static member Default = { ChannelsLast = false; Expand = false; Width = 65 }

/// Keras-style model summaries: Layer (type), Output Shape, Param #, then total, trainable and
/// non-trainable parameters and the size in MB.
module Summary =
    let private layerParams (i: LayerInfo) = Params.numel i.Params + Params.numel i.State

    let rec private showShape (o: SummaryOptions) (s: Shape) =
        match s with
        | Shape.Dims [ c; h; w ] when o.ChannelsLast -> string (Shape.Dims [ h; w; c ])
        | Shape.Heads hs -> "{" + String.Join(", ", hs |> List.map (fun (n, x) -> n + ": " + showShape o x)) + "}"
        | s -> string s

    let private rows (o: SummaryOptions) (m: Model) =
        let top = if List.isEmpty m.Info.Children then [ m.Info ] else m.Info.Children
        let rec go depth (i: LayerInfo) =
            let row = String.replicate (2 * depth) " " + sprintf "%s (%s)" i.Name i.Kind, showShape o i.Output, layerParams i
            if o.Expand && not (List.isEmpty i.Children) then row :: List.collect (go (depth + 1)) i.Children else [ row ]
        List.collect (go 0) top

    /// The summary as text.
    let renderWith (o: SummaryOptions) (m: Model) : string =
        let sb = StringBuilder()
        let rs = rows o m
        let c1 = max 29 (2 + (rs |> List.map (fun (n, _, _) -> n.Length) |> List.fold max 0))
        let c2 = max 26 (2 + (rs |> List.map (fun (_, s, _) -> s.Length) |> List.fold max 0))
        let o = { o with Width = max o.Width (c1 + c2 + 12) }
        let line (c: char) = sb.AppendLine(String(c, o.Width)) |> ignore
        let cell (s: string) w = s.PadRight w
        sb.AppendLine(sprintf "Model: \"%s\"" m.Info.Name) |> ignore
        line '_'
        sb.AppendLine(" " + cell "Layer (type)" (c1 - 1) + cell "Output Shape" c2 + "Param #") |> ignore
        line '='
        rs
        |> List.iteri (fun i (name, shape, n) ->
            sb.AppendLine((" " + cell name (c1 - 1) + cell shape c2 + n.ToString("N0", Globalization.CultureInfo.InvariantCulture)).TrimEnd()) |> ignore
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
