using System.Globalization;
using System.Text;

namespace Dsl.Engine;

/// <summary>Prints tensors like PyTorch does: values for small tensors, a summary for large ones.</summary>
internal static class TensorFormat
{
    const int MaxElements = 64;

    internal static string Format(Tensor t)
    {
        var shape = t.Shape;
        var dt = t.DType;
        var header = $"shape=[{string.Join(", ", shape)}], dtype={dt.Name()}{(t.Device.Type == DeviceType.Cpu ? "" : ", device=" + t.Device)}";
        if (t.Numel > MaxElements) return $"tensor({header})";
        double[] values;
        using (var d = t.To(DType.Float64)) values = d.ToArray<double>();
        var sb = new StringBuilder("tensor(");
        int pos = 0;
        Write(sb, shape, 0, values, ref pos, dt.IsFloating());
        return sb.Append(", ").Append(header).Append(')').ToString();
    }

    static void Write(StringBuilder sb, long[] shape, int dim, double[] v, ref int pos, bool floating)
    {
        if (dim == shape.Length) { sb.Append(floating ? v[pos++].ToString("0.####", CultureInfo.InvariantCulture) : v[pos++].ToString(CultureInfo.InvariantCulture)); return; }
        sb.Append('[');
        for (long i = 0; i < shape[dim]; i++)
        {
            if (i > 0) sb.Append(", ");
            Write(sb, shape, dim + 1, v, ref pos, floating);
        }
        sb.Append(']');
    }
}
