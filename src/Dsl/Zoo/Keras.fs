namespace Dsl

/// MobileNet (v1) and Xception as Keras builds them (keras/applications/mobilenet.py, xception.py), one
/// summary row per Keras layer where Keras's graph is a chain, with Keras's layer names. Keras's batch norm
/// (eps 0.001, momentum 0.99, which is 0.01 here) and Glorot-uniform weights.
module KerasApps =
    let private bn: BatchNormOptions = { BatchNormOptions.Default with Eps = 0.001; Momentum = 0.01 }
    let private keras: ConvOptions = { ConvOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros; Bias = false }
    let private conv (o: ConvOptions) filters k = conv2dWith o filters (k, k)
    let private relu6Layer name = named name relu6

    /// Keras's `_depthwise_conv_block`: (zero padding when strided) depthwise 3×3, BN, ReLU6, pointwise 1×1, BN, ReLU6.
    let private depthwiseBlock (filters: int) (multiplier: int) (stride: int) (id: int) : Layer list = [
        if stride <> 1 then named (sprintf "conv_pad_%d" id) (zeroPad2 (0, 1, 0, 1))
        named (sprintf "conv_dw_%d" id) (depthwiseConv2dWith { keras with Stride = stride; Padding = (if stride = 1 then Same else Valid) } multiplier 3)
        named (sprintf "conv_dw_%d_bn" id) (batchNormWith bn)
        relu6Layer (sprintf "conv_dw_%d_relu" id)
        named (sprintf "conv_pw_%d" id) (conv { keras with Padding = Same } filters 1)
        named (sprintf "conv_pw_%d_bn" id) (batchNormWith bn)
        relu6Layer (sprintf "conv_pw_%d_relu" id)
    ]

    /// Keras's MobileNet with width `alpha`, depth multiplier and dropout (Keras's: 1.0, 1, 0.001); the top is
    /// global pooling (kept 1×1), dropout, a 1×1 convolution `conv_preds`, reshape and softmax.
    let mobilenetWith (alpha: float) (depthMultiplier: int) (dropoutRate: float) (o: ZooOptions) : Layer =
        let f (n: int) = int (float n * alpha)
        let spec = [ 64, 1; 128, 2; 128, 1; 256, 2; 256, 1; 512, 2; 512, 1; 512, 1; 512, 1; 512, 1; 512, 1; 1024, 2; 1024, 1 ]
        serial [
            named "conv1_pad" (zeroPad2 (0, 1, 0, 1))
            named "conv1" (conv { keras with Stride = 2 } (f 32) 3)
            named "conv1_bn" (batchNormWith bn)
            relu6Layer "conv1_relu"
            yield! spec |> List.mapi (fun i (n, s) -> depthwiseBlock (f n) depthMultiplier s (i + 1)) |> List.concat
            if o.IncludeTop then
                named "global_average_pooling2d" (adaptiveAvgPool (1, 1))
                named "dropout" (dropout dropoutRate)
                named "conv_preds" (conv { keras with Bias = true; Padding = Same } o.Classes 1)
                named "reshape_2" (reshape [ int64 o.Classes ])
                named "predictions" softmax
        ]

    let private sep (filters: int) = separableConv2dWith { keras with Padding = Same } filters 3
    let private act name = named name relu
    let private norm name = named name (batchNormWith bn)
    let private pool name = named name (maxPoolWith { PoolOptions.Default with Stride = Some 2; Padding = Same } 3)

    /// Xception's strided blocks (2, 3, 4, 13): the main branch, with a 1×1 stride-2 convolution and BN as the
    /// projected shortcut (`residual`); `preact` is false for block 2, whose first separable convolution has no
    /// ReLU before it.
    let private entryBlock (id: int) (f1: int) (f2: int) (preact: bool) : Layer =
        let p = sprintf "block%d_" id
        let main =
            serial [
                if preact then act (p + "sepconv1_act")
                named (p + "sepconv1") (sep f1)
                norm (p + "sepconv1_bn")
                act (p + "sepconv2_act")
                named (p + "sepconv2") (sep f2)
                norm (p + "sepconv2_bn")
                pool (p + "pool")
            ]
        let shortcut = serial [ named "conv2d" (conv { keras with Stride = 2; Padding = Same } f2 1); named "batch_normalization" (batchNormWith bn) ]
        named (sprintf "block%d" id) (residualSum main (Some("residual", shortcut)) None)

    /// Xception's middle blocks (5–12): three ReLU, separable 3×3 (728), BN; identity shortcut.
    let private middleBlock (id: int) : Layer =
        let p = sprintf "block%d_" id
        named
            (sprintf "block%d" id)
            (residual (
                serial [
                    for k in 1..3 do
                        act (sprintf "%ssepconv%d_act" p k)
                        named (sprintf "%ssepconv%d" p k) (sep 728)
                        norm (sprintf "%ssepconv%d_bn" p k)
                ]
            ))

    /// Keras's Xception (input 299×299 in Keras; any size ≥ 71 works); the top is global average pooling and a
    /// softmax dense layer `predictions`.
    let xception (o: ZooOptions) : Layer =
        serial [
            named "block1_conv1" (conv { keras with Stride = 2 } 32 3)
            norm "block1_conv1_bn"
            act "block1_conv1_act"
            named "block1_conv2" (conv keras 64 3)
            norm "block1_conv2_bn"
            act "block1_conv2_act"
            entryBlock 2 128 128 false
            entryBlock 3 256 256 true
            entryBlock 4 728 728 true
            for i in 5..12 do
                middleBlock i
            entryBlock 13 728 1024 true
            named "block14_sepconv1" (sep 1536)
            norm "block14_sepconv1_bn"
            act "block14_sepconv1_act"
            named "block14_sepconv2" (sep 2048)
            norm "block14_sepconv2_bn"
            act "block14_sepconv2_act"
            if o.IncludeTop then
                named "avg_pool" globalAvgPool
                named
                    "predictions"
                    (denseWith { DenseOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros; Activation = Some Activation.softmax } o.Classes)
        ]
