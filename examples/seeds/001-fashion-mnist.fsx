// Seed 001 (Keras homework), Fashion-MNIST: the MLP (Image 4.1: 0.8732), the CNN (Image 4.2: 0.9166) and the
// seed's own CNN (Image 4.3: 0.9360), with the seed's protocol: validation split 0.1, early stopping on
// val_loss with the best weights restored, Adam, batch 100; then the most confused classes from our confusion
// matrix against the seed's finding (T-shirt/top vs Shirt).
//   dotnet fsi build.fsx run examples/seeds/001-fashion-mnist.fsx [--epochs N]   (the real data, installed here)
//   dotnet fsi build.fsx run examples/seeds/001-fashion-mnist.fsx --quick        (1 epoch on a subset)
//   dotnet fsi build.fsx run examples/seeds/001-fashion-mnist.fsx --summaries    (the seven summaries, checked)
//   dotnet fsi build.fsx run examples/seeds/001-fashion-mnist.fsx --only seed    (the models whose name contains "seed")
#load "Seeds.fsx"
#load "Seed001.fsx"

open Dsl
open Dsl.Engine
open Dsl.Data
open Seeds

if args |> Array.contains "--summaries" then exit (if Seed001.checkSummaries () then 0 else 1)

let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    let n = if quick then (if train then 1500L else 500L) else images.Size 0
    images.Narrow(0L, 0L, n).To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1L), labels.Narrow(0L, 0L, n)

let xTrain, yTrain = load true
let xTest, yTest = load false
let names = List.ofSeq FashionMnist.ClassNames

let options = {
    FitOptions.Default with
        Optimizer = Optimizers.adam 1e-3
        Epochs = (if quick then 1 else epochs 40)
        BatchSize = 100
        Seed = 1L
        ValidationSplit = Some 0.1
        Callbacks = [ Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Patience = 6; RestoreBestWeights = true } ]
        Verbosity = (if quick then Silent else Auto)
}

/// The pair of different classes most often taken for each other (both directions), from a confusion matrix.
let mostConfused (cm: int64[,]) =
    let k = Array2D.length1 cm
    [
        for i in 0 .. k - 1 do
            for j in i + 1 .. k - 1 -> i, j, cm.[i, j] + cm.[j, i]
    ]
    |> List.maxBy (fun (_, _, n) -> n)

let out = outputDir "001-fashion-mnist"

/// The seed's protocol for its own, deeper CNN ("epochs 50 to 100, patience 10 to 15, on val_loss"): up to 60 epochs
/// with patience 12, and the learning rate halved when val_loss stalls for 4 epochs (the 25-30% dropout keeps the
/// training accuracy below the validation accuracy for many epochs; patience 6 stopped it at 18 with both rising).
let longer (o: FitOptions) =
    if quick then
        o
    else
        {
            o with
                Epochs = epochs 60
                Callbacks = [
                    Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Patience = 12; RestoreBestWeights = true }
                    Callback.reduceLROnPlateau { ReduceLROnPlateau.Default with Monitor = "val_loss"; Factor = 0.5; Patience = 4 }
                ]
        }

let run (name: string) (layer: Layer) (seedAccuracy: string) (protocol: FitOptions -> FitOptions) =
    let options = protocol options
    let model = Model.build [ 1L; 28L; 28L ] layer
    // Each model's report: curves (the seed's Image 4.4), confusion matrix (4.5) and 15 test predictions (4.6-4.8).
    let report = {
        ReportOptions.In(System.IO.Path.Combine(out, name.Replace(' ', '_').Replace("'", ""))) with
            Title = "Seed 001, Fashion-MNIST: " + name
            ClassNames = names
            Examples = Some(xTest, yTest)
            PredictionCount = 15
            Print = false
    }
    let (trained, acc, cm), seconds =
        timed (fun () ->
            let t = Training.fit { options with Callbacks = options.Callbacks @ [ Report.callback report ] } model xTrain (Value.T yTrain)
            let acc = (Training.evaluate options t.Model xTest (Value.T yTest)).["accuracy"]
            let logits = Training.predict 500 t.Model xTest |> Value.tensor
            t, acc, Metric.confusionMatrix 10 logits yTest)
    let i, j, n = mostConfused cm
    printfn "%s: %d epochs, test accuracy %.4f; most confused: %s and %s (%d test images)" name trained.History.Length acc names.[i] names.[j] n
    { Experiment = sprintf "%s (%s params)" name ((Model.countParams model).ToString("N0")); Seed = seedAccuracy; Ours = sprintf "%.4f" acc; Seconds = seconds },
    (names.[i], names.[j]),
    report.Dir

let models = [ "MLP", Seed001.mlp, "0.8732", id; "CNN", Seed001.fashionCnn, "0.9166", id; "seed's CNN", Seed001.fashionPersonal, "0.9360", longer ]
let chosen =
    match option "--only" with
    | Some part -> models |> List.filter (fun (name, _, _, _) -> name.Contains part)
    | None -> models
if chosen.IsEmpty then
    eprintfn "--only %s matches none of the models (%s)." (defaultArg (option "--only") "") (models |> List.map (fun (n, _, _, _) -> n) |> String.concat ", ")
    exit 2
let results = [ for name, layer, seed, protocol in chosen -> run name layer seed protocol ]
printTable "Seed 001, Fashion-MNIST: test accuracy" [ for r, _, _ in results -> r ]
Report.compare (System.IO.Path.Combine(out, "compare.html")) "val_accuracy" [ for _, _, dir in results -> dir ]
printfn "\nwrote a report per model and %s" (System.IO.Path.Combine(out, "compare.html"))
let confusedPairs = [ for _, pair, _ in results -> pair ]
let seedFinding = confusedPairs |> List.filter (fun (a, b) -> set [ a; b ] = set [ "T-shirt/top"; "Shirt" ]) |> List.length
printfn
    "\nThe seed found T-shirt/top and Shirt the most confused pair; our matrices agree for %d of %d models (%s)."
    seedFinding
    results.Length
    (confusedPairs |> List.map (fun (a, b) -> a + " / " + b) |> String.concat "; ")
