using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using PureHDF;

namespace Dsl.Engine.IO;

/// <summary>
/// Reads Keras HDF5 weights (<c>model.save("x.h5")</c>, whose weights are under <c>model_weights/</c>, and
/// <c>model.save_weights("x.h5")</c>, whose weights are at the root) with PureHDF, and converts them to Dsl's
/// (PyTorch's) layout and names. The root's <c>layer_names</c> attribute lists the layers; each layer group's
/// <c>weight_names</c> attribute lists its datasets (<c>dense/kernel:0</c>, ...). A weight is named
/// <c>&lt;layer&gt;.&lt;name&gt;</c> with Keras's names mapped: kernel → weight, transposed from [in, out] to
/// [out, in] (dense) or from [spatial..., in, out] to [out, in, spatial...] (Conv1D/2D/3D: HWIO → OIHW);
/// depthwise_kernel [H, W, C, M] → weight [C·M, 1, H, W] (a grouped convolution, output channel c·M + m);
/// SeparableConv2D's depthwise_kernel, pointwise_kernel and bias → depthwise.weight, pointwise.weight, pointwise.bias;
/// embeddings → weight; gamma, beta, moving_mean, moving_variance → weight, bias, running_mean, running_var;
/// bias → bias. Other weights keep their Keras name and layout.
/// </summary>
public static class KerasWeights
{
    static readonly Regex Suffix = new(@":\d+$");

    /// <summary>Loads every weight of the file, converted, in the order of <c>layer_names</c> and <c>weight_names</c>.</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Load(string path, Device? device = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"keras.load: no file at '{path}'.", path);
        var result = new List<KeyValuePair<string, Tensor>>();
        try
        {
            using var file = OpenHdf5(path);
            IH5Group root = file.LinkExists("model_weights") ? file.Group("model_weights") : file;
            if (!root.AttributeExists("layer_names"))
                throw Fail(path, "has no layer_names attribute (at the root or in model_weights/), so it is not a Keras weights file",
                           "Give a file written by Keras's model.save(\"x.h5\") or model.save_weights(\"x.h5\")");
            var seen = new HashSet<string>();
            foreach (var layer in root.Attribute("layer_names").Read<string[]>())
            {
                if (!root.LinkExists(layer)) throw Fail(path, $"lists layer '{layer}' in layer_names but has no group for it", "The file is damaged; save it again");
                var g = root.Group(layer);
                var names = g.AttributeExists("weight_names") ? g.Attribute("weight_names").Read<string[]>() : [];
                var separable = names.Any(n => Last(n) == "pointwise_kernel");
                foreach (var wname in names)
                {
                    if (!g.LinkExists(wname)) throw Fail(path, $"lists weight '{wname}' of layer '{layer}' but has no dataset for it", "The file is damaged; save it again");
                    var (mapped, tensor) = Convert(Last(wname), separable, Read(g.Dataset(wname), path, layer + "/" + wname, device));
                    var name = layer + "." + mapped;
                    if (!seen.Add(name)) name = Suffix.Replace(wname, "").Replace('/', '.');
                    result.Add(new(name, tensor));
                }
            }
            return result;
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
    }

    static PureHDF.VOL.Native.NativeFile OpenHdf5(string path)
    {
        try { return H5File.OpenRead(path); }
        catch (Exception e) when (e is not IOException)
        { throw Fail(path, $"is not a readable HDF5 file ({e.Message})", "Give a Keras .h5 file; download or save it again if it is damaged"); }
    }

    static InvalidDataException Fail(string path, string what, string fix) => new($"keras.load: '{path}' {what}. {fix}.");

    static string Last(string weightName) => Suffix.Replace(weightName, "").Split('/')[^1];

    static Tensor Read(IH5Dataset d, string path, string what, Device? device)
    {
        var shape = d.Space.Dimensions.Select(x => (long)x).ToArray();
        if (d.Type.Class != H5DataTypeClass.FloatingPoint)
            throw Fail(path, $"stores '{what}' as {d.Type.Class}, not floating point", "Keras weights are floats; check the file");
        return d.Type.Size switch
        {
            4 => Tensor.FromBytes(MemoryMarshal.AsBytes(d.Read<float[]>().AsSpan()), shape, DType.Float32, device),
            8 => Tensor.FromBytes(MemoryMarshal.AsBytes(d.Read<double[]>().AsSpan()), shape, DType.Float64, device),
            2 => Tensor.FromBytes(MemoryMarshal.AsBytes(d.Read<Half[]>().AsSpan()), shape, DType.Float16, device),
            var n => throw Fail(path, $"stores '{what}' as {n * 8}-bit floats", "Save it as float16, float32 or float64"),
        };
    }

    /// <summary>Dsl's name and layout of one Keras weight (the raw tensor is consumed).</summary>
    static (string Name, Tensor Tensor) Convert(string keras, bool separable, Tensor raw)
    {
        var r = raw.Shape.Length;
        switch (keras)
        {
            case "kernel" when r >= 2:
                return ("weight", Permuted(raw, [r - 1, r - 2, .. Enumerable.Range(0, r - 2).Select(i => (long)i)]));
            case "depthwise_kernel" when r == 4:
                {
                    var (h, w, c, m) = (raw.Shape[0], raw.Shape[1], raw.Shape[2], raw.Shape[3]);
                    using var p = Permuted(raw, [2, 3, 0, 1]);
                    return (separable ? "depthwise.weight" : "weight", p.Reshape(c * m, 1, h, w));
                }
            case "pointwise_kernel" when r == 4:
                return ("pointwise.weight", Permuted(raw, [3, 2, 0, 1]));
            case "bias":
                return (separable ? "pointwise.bias" : "bias", raw);
            case "embeddings": return ("weight", raw);
            case "gamma": return ("weight", raw);
            case "beta": return ("bias", raw);
            case "moving_mean": return ("running_mean", raw);
            case "moving_variance": return ("running_var", raw);
            default: return (keras, raw);
        }
    }

    static Tensor Permuted(Tensor raw, long[] dims)
    {
        using (raw)
        using (var p = raw.Permute(dims))
            return p.Contiguous();
    }
}
