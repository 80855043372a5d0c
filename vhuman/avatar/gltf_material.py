"""glTF materials → :class:`vhuman.avatar.model.Material` (base colour, normal map, alpha).

Texture images keep glTF's convention: row 0 is the top of the image and UV (0, 0) is its
top-left corner, so a renderer that uploads rows in order samples them with the UVs as
stored (no V flip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vhuman.avatar.gltf_io import GltfAsset
from vhuman.avatar.model import Material


@dataclass(slots=True)
class MaterialTable:
    """Materials of one asset, built once, plus the UV set each base-colour texture reads."""

    asset: GltfAsset
    _cache: dict[int, tuple[Material, int]] = field(default_factory=dict)
    _images: dict[int, np.ndarray] = field(default_factory=dict)

    def get(self, index: int | None) -> tuple[Material, int]:
        """(Material, TEXCOORD set index) for glTF material ``index`` (None → default)."""
        if index is None:
            return Material(), 0
        if index not in self._cache:
            self._cache[index] = self._build(index)
        return self._cache[index]

    def _texture_image(self, tex_index: Any, what: str) -> np.ndarray:
        tex = self.asset.item("textures", tex_index)
        source = tex.source
        ext = tex.extensions or {}
        # The spec's order: a client that decodes an extension's image uses it; ``source``
        # is the fallback for clients that do not (and may be absent).
        for name in ("EXT_texture_webp", "KHR_texture_webp", "KHR_texture_basisu"):
            if isinstance(ext.get(name), dict) and ext[name].get("source") is not None:
                source = ext[name]["source"]
                break
        if source is None:
            raise self.asset.fail(f"{what}: texture {tex_index} has no image source")
        if source not in self._images:
            self._images[source] = self.asset.image_rgba(source)
        return self._images[source]

    def _build(self, index: int) -> tuple[Material, int]:
        m = self.asset.item("materials", index)
        mat = Material(name=m.name or f"material{index}")
        pbr = m.pbrMetallicRoughness
        texcoord = 0
        if pbr is not None:
            factor = list(pbr.baseColorFactor or [1.0, 1.0, 1.0, 1.0])
            if len(factor) != 4:
                raise self.asset.fail(f"material {index}: baseColorFactor needs 4 numbers")
            mat.base_color = tuple(float(v) for v in factor)
            mat.metallic = float(1.0 if pbr.metallicFactor is None else pbr.metallicFactor)
            mat.roughness = float(1.0 if pbr.roughnessFactor is None else pbr.roughnessFactor)
            info = pbr.baseColorTexture
            if info is not None and info.index is not None:
                mat.texture = self._texture_image(info.index, f"material {index} base colour")
                texcoord = int(info.texCoord or 0)
                tt = (info.extensions or {}).get("KHR_texture_transform")
                if isinstance(tt, dict):
                    off = tt.get("offset", [0.0, 0.0])
                    scale = tt.get("scale", [1.0, 1.0])
                    mat.uv_offset = (float(off[0]), float(off[1]))
                    mat.uv_rotation = float(tt.get("rotation", 0.0))
                    mat.uv_scale = (float(scale[0]), float(scale[1]))
                    if tt.get("texCoord") is not None:
                        texcoord = int(tt["texCoord"])
        if m.normalTexture is not None and m.normalTexture.index is not None:
            mat.normal_texture = self._texture_image(m.normalTexture.index,
                                                     f"material {index} normal map")
        mode = (m.alphaMode or "OPAQUE").upper()
        if mode not in ("OPAQUE", "MASK", "BLEND"):
            raise self.asset.fail(f"material {index}: unknown alphaMode {m.alphaMode!r}")
        mat.alpha_mode = mode
        mat.alpha_cutoff = float(0.5 if m.alphaCutoff is None else m.alphaCutoff)
        mat.double_sided = bool(m.doubleSided)
        emissive = list(m.emissiveFactor or [0.0, 0.0, 0.0])
        ext = m.extensions or {}
        strength = float((ext.get("KHR_materials_emissive_strength") or {})
                         .get("emissiveStrength", 1.0))
        mat.emissive = tuple(float(v) * strength for v in emissive[:3])
        ours = (m.extras or {}).get("vhuman")
        wrap = ours.get("wrap") if isinstance(ours, dict) else None
        if isinstance(wrap, (int, float)) and 0.0 <= wrap <= 1.0:
            mat.wrap = float(wrap)  # written by vhuman's own exporter
        if "KHR_materials_unlit" in ext or "VRMC_materials_mtoon" in ext:
            # Approximation: the renderer has no unlit path, so wrap the light all the way
            # round and kill highlights; the albedo then reads nearly flat, as authored.
            mat.wrap = 1.0
            mat.roughness = 1.0
            mat.metallic = 0.0
        return mat, texcoord
