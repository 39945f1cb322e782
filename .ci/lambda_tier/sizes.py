"""Per function: its code + the layers it names (ours as built, the managed ones at their published unzipped size,
layers/managed-layers.toml), against Lambda's limit of 262,144,000 bytes unzipped; the core layer against 16 MB.
Exit 1 above either. Usage: python sizes.py CORE_LAYER_DIR"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANAGED_SIZES = {"AwsSdkPandasLayerArn": "aws_sdk_pandas", "PowertoolsLayerArn": "powertools"}
CORE_LAYER_LIMIT_MB = 16


class _AnyTag(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub ...) as {tag: value}."""


_AnyTag.add_multi_constructor("!", lambda loader, suffix, node: {
    suffix: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node)})


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main(core_layer: Path) -> int:
    managed = tomllib.loads((ROOT / "layers" / "managed-layers.toml").read_text())
    limit = managed["runtime"]["limit_unzipped_mb"] * 1.048576  # 250 MiB in MB
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_AnyTag)
    core = size_mb(core_layer)
    rows = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        layers = [layer["Ref"] for layer in properties.get("Layers", [])]
        total = size_mb(ROOT / properties["CodeUri"]) + (core if "CoreLayer" in layers else 0)
        total += sum(managed[MANAGED_SIZES[name]]["unzipped_mb"] for name in layers if name in MANAGED_SIZES)
        rows.append((total, logical, layers))
    print(f"== function sizes, unzipped (limit {limit:.1f} MB; core layer {core:.1f} MB, "
          f"limit {CORE_LAYER_LIMIT_MB} MB)")
    for total, logical, layers in sorted(rows, reverse=True):
        print(f"   {logical}: {total:.1f} MB, headroom {limit - total:.1f} MB ({' + '.join(['code'] + layers)})")
    worst = max(total for total, _, _ in rows)
    if worst > limit or core > CORE_LAYER_LIMIT_MB:
        print(f"sizes: over a limit (largest function {worst:.1f} MB of {limit:.1f}; core layer {core:.1f} MB of "
              f"{CORE_LAYER_LIMIT_MB})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
