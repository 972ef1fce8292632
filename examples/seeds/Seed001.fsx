// Seed 001's seven models (Keras: Fashion-MNIST, CIFAR-10, CIFAR-100), with the seed's exact architectures; the
// parameter counts of its model.summary tables are checked by `--summaries` in CI. Keras's BatchNormalization(axis=1)
// on its channels-last images normalises each image row: `Axis = 2` on Dsl's channels-first tensors.
#load "../../Dsl.fsx"

open Dsl

let private relu' = Some Activation.relu
let private same (filters: int) (k: int) = conv2dWith { ConvOptions.Default with Padding = Same; Activation = relu' } filters (k, k)
let private pool = maxPoolWith { PoolOptions.Default with Padding = Same } 2
let private rowNorm = batchNormWith { BatchNormOptions.Default with Axis = 2 }
let private denseRelu (u: int) = denseWith { DenseOptions.Default with Activation = relu' } u

/// The MLP of seed 001: flatten, dense 32, 64, 128, 256 (ReLU), dense 10 — 71,146 parameters on Fashion-MNIST,
/// 144,362 on CIFAR-10.
let mlp = serial ([ flatten ] @ [ for u in [ 32; 64; 128; 256 ] -> denseRelu u ] @ [ dense 10 ])

/// The CIFAR-10 CNN of the project description: conv 32, 32, pool, 64, pool, 128, pool, dense 10 — 122,986.
let cifarCnn = serial [ same 32 3; same 32 3; pool; same 64 3; pool; same 128 3; pool; flatten; dense 10 ]

/// The Fashion-MNIST CNN of the project description: conv 32, 32, pool, 64, pool, dense 10.
let fashionCnn = serial [ same 32 3; same 32 3; pool; same 64 3; pool; flatten; dense 10 ]

/// The seed's own Fashion-MNIST CNN: 109,726 parameters (107,524 trainable; row-wise batch norm).
let fashionPersonal =
    serial [
        rowNorm
        same 32 3
        rowNorm
        same 64 3
        pool
        dropout 0.25
        rowNorm
        same 64 2
        pool
        dropout 0.25
        rowNorm
        same 64 3
        pool
        dropout 0.25
        flatten
        batchNorm
        denseRelu 32
        dropout 0.3
        dense 10
    ]

/// The seed's own CIFAR-10 CNN: 150,218 parameters (149,010 trainable).
let cifarPersonal =
    serial [
        rowNorm
        same 32 3
        rowNorm
        same 32 3
        pool
        dropout 0.2
        rowNorm
        same 64 3
        pool
        dropout 0.2
        rowNorm
        same 64 3
        pool
        dropout 0.2
        rowNorm
        same 128 3
        pool
        dropout 0.2
        flatten
        batchNorm
        denseRelu 16
        dropout 0.2
        dense 10
    ]

/// The seed's CIFAR-100 CNN: 684,564 parameters (682,332 trainable).
let cifar100 =
    serial [
        rowNorm
        same 32 3
        rowNorm
        same 64 3
        pool
        dropout 0.2
        rowNorm
        same 128 3
        pool
        dropout 0.2
        rowNorm
        same 128 3
        pool
        dropout 0.2
        rowNorm
        same 256 3
        pool
        dropout 0.2
        flatten
        batchNorm
        denseRelu 128
        dropout 0.3
        dense 100
    ]

/// (name, input shape, layer, Keras's total / trainable / non-trainable counts from the seed's summaries; None
/// where the seed's summary is a picture).
let all = [
    "fmnist-mlp", [ 1L; 28L; 28L ], mlp, Some(71_146L, 71_146L, 0L)
    "fmnist-cnn", [ 1L; 28L; 28L ], fashionCnn, None
    "fmnist-personal", [ 1L; 28L; 28L ], fashionPersonal, Some(109_726L, 107_524L, 2_202L)
    "cifar10-mlp", [ 3L; 32L; 32L ], mlp, Some(144_362L, 144_362L, 0L)
    "cifar10-cnn", [ 3L; 32L; 32L ], cifarCnn, Some(122_986L, 122_986L, 0L)
    "cifar10-personal", [ 3L; 32L; 32L ], cifarPersonal, Some(150_218L, 149_010L, 1_208L)
    "cifar100", [ 3L; 32L; 32L ], cifar100, Some(684_564L, 682_332L, 2_232L)
]

/// Prints each model's Keras-style summary (channels last, as the seed's) and whether its counts are the seed's;
/// returns false when one differs.
let checkSummaries () =
    let mutable ok = true
    for name, input, layer, expected in all do
        let m = Model.build input layer
        printfn "%s:" name
        Summary.renderWith { SummaryOptions.Default with ChannelsLast = true } m |> printf "%s"
        let got = Model.countParams m, Model.trainableParams m, Model.nonTrainableParams m
        match expected with
        | Some e when e = got -> printfn "%s: the seed's counts %A: same\n" name e
        | Some e ->
            ok <- false
            printfn "%s: MISMATCH: the seed's counts %A, ours %A\n" name e got
        | None -> printfn "%s: %A (the seed shows this summary as a picture)\n" name got
        Model.dispose m
    ok
