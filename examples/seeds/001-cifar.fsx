// Seed 001 (Keras homework), CIFAR-10 and CIFAR-100: the MLP (0.5001), the CNN (0.7438) and the seed's own CNN
// (0.8430) on CIFAR-10, and its CIFAR-100 CNN (0.6014), with the seed's protocol (validation split 0.1, early
// stopping on val_loss with the best weights restored, Adam, batch 100).
//   dotnet fsi build.fsx run examples/seeds/001-cifar.fsx --data DIR   (DIR holds cifar-10-binary.tar.gz and
//                                                                       cifar-100-binary.tar.gz, or their folders)
//   dotnet fsi build.fsx run examples/seeds/001-cifar.fsx --quick      (small generated files in the real format)
#load "Seeds.fsx"
#load "Seed001.fsx"

open System
open System.IO
open Dsl
open Dsl.Engine
open Dsl.Data
open Seeds

/// Small CIFAR-10 and CIFAR-100 folders in the official binary format, with images a CNN can learn: each class
/// has its own colour and stripe direction, under noise.
let generate (dir: string) =
    let rng = Random 7
    let record (labels: byte[]) (cls: int) =
        let px = Array.zeroCreate<byte>(3 * 32 * 32)
        let hue = float cls * 2.399
        for ch in 0..2 do
            for y in 0..31 do
                for x in 0..31 do
                    let stripe = if (if cls % 2 = 0 then x else y) / (2 + cls % 5) % 2 = 0 then 60.0 else -60.0
                    let v = 128.0 + 70.0 * sin (hue + float ch * 2.1) + stripe + 40.0 * (rng.NextDouble() - 0.5)
                    px.[ch * 1024 + y * 32 + x] <- byte (max 0.0 (min 255.0 v))
        Array.append labels px
    let c10 = Path.Combine(dir, Cifar10.FolderName)
    Directory.CreateDirectory c10 |> ignore
    for name, n in [ for i in 1..5 -> (sprintf "data_batch_%d.bin" i, 120) ] @ [ ("test_batch.bin", 200) ] do
        File.WriteAllBytes(Path.Combine(c10, name), Array.concat [ for i in 0 .. n - 1 -> record [| byte (i % 10) |] (i % 10) ])
    let c100 = Path.Combine(dir, Cifar100.FolderName)
    Directory.CreateDirectory c100 |> ignore
    for name, n in [ ("train.bin", 1000); ("test.bin", 200) ] do
        File.WriteAllBytes(Path.Combine(c100, name), Array.concat [ for i in 0 .. n - 1 -> record [| byte (i % 100 / 5); byte (i % 100) |] (i % 100) ])

let root =
    if quick && data.IsNone then
        let d = Path.Combine(Path.GetTempPath(), sprintf "dsl-cifar-quick-%d" Environment.ProcessId)
        generate d
        d
    else
        requireData "CIFAR-10 and CIFAR-100 (binary versions)" DataSources.Cifar10

/// Images as float [N, 3, 32, 32], standardised per channel with the training set's statistics.
let prepare (train: Tensor) (test: Tensor) =
    let f (x: Tensor) = x.To(DType.Float32).Div_(255.0)
    let tr, te = f train, f test
    let mean = tr.Mean([| 0L; 2L; 3L |], true)
    let std = tr.Std([| 0L; 2L; 3L |], keepdim = true)
    (tr - mean) / std, (te - mean) / std

let options = {
    FitOptions.Default with
        Optimizer = Optimizers.adam 1e-3
        Epochs = (if quick then 1 else epochs 60)
        BatchSize = 100
        Seed = 1L
        ValidationSplit = Some 0.1
        Callbacks = [ Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Patience = 8; RestoreBestWeights = true } ]
        Verbosity = (if quick then Silent else Auto)
}

let out = outputDir "001-cifar"

let run (name: string) (layer: Layer) (seedAccuracy: string) (classNames: string list) (xTrain: Tensor) (yTrain: Tensor) (xTest: Tensor) (yTest: Tensor) =
    let model = Model.build [ 3L; 32L; 32L ] layer
    let report = {
        ReportOptions.In(Path.Combine(out, name.Replace(' ', '_').Replace("'", ""))) with
            Title = "Seed 001: " + name
            ClassNames = classNames
            Examples = Some(xTest, yTest)
            PredictionCount = 15
            Print = false
    }
    let acc, seconds =
        timed (fun () ->
            let t = Training.fit { options with Callbacks = options.Callbacks @ [ Report.callback report ] } model xTrain (Value.T yTrain)
            (Training.evaluate options t.Model xTest (Value.T yTest)).["accuracy"])
    printfn "%s: test accuracy %.4f" name acc
    { Experiment = sprintf "%s (%s params)" name ((Model.countParams model).ToString("N0")); Seed = seedAccuracy; Ours = sprintf "%.4f" acc; Seconds = seconds }

let strict = not quick
let c10Train, c10Test = Cifar10.Load(root, true, strict), Cifar10.Load(root, false, strict)
let x10, x10Test = prepare c10Train.Images c10Test.Images
let names10 = List.ofSeq c10Train.ClassNames
let rows10 = [
    run "CIFAR-10 MLP" Seed001.mlp "0.5001" names10 x10 c10Train.Labels x10Test c10Test.Labels
    run "CIFAR-10 CNN" Seed001.cifarCnn "0.7438" names10 x10 c10Train.Labels x10Test c10Test.Labels
    run "CIFAR-10 seed's CNN" Seed001.cifarPersonal "0.8430" names10 x10 c10Train.Labels x10Test c10Test.Labels
]
let c100Train, c100Test = Cifar100.Load(root, true, strict), Cifar100.Load(root, false, strict)
let x100, x100Test = prepare c100Train.Images c100Test.Images
let rows100 = [ run "CIFAR-100 seed's CNN" Seed001.cifar100 "0.6014" (List.ofSeq c100Train.ClassNames) x100 c100Train.Labels x100Test c100Test.Labels ]
printTable (sprintf "Seed 001, CIFAR%s: test accuracy" (if quick then " (generated quick data, not comparable)" else "")) (rows10 @ rows100)
printfn "\nwrote a report per model under %s" out
if quick && data.IsNone then Directory.Delete(root, true)
