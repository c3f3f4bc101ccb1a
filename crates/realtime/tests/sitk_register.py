"""Rigid registration of moved volumes to a reference with SimpleITK, as the independent
implementation the realtime crate's motion correction is compared with (issue 10).

Usage: sitk_register.py DIR
DIR holds geometry.json ({"shape": [nx, ny, nz], "affine_ras": 4x4, "centre_ras": [x, y, z],
"volumes": N}), reference.f32 and moved_0.f32 .. moved_{N-1}.f32 (float32, NIfTI order:
i fastest). Writes DIR/sitk.json: per volume the fixed-to-moving transform as a 4x4 matrix
in RAS+ mm, and the seconds each registration took.

SimpleITK works in LPS; the RAS affine is flipped into LPS (x and y negated) and the
result flipped back, so the matrices are in the realtime crate's frame and direction
(reference point -> moving point).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def image(path, shape, affine_lps):
    nx, ny, nz = shape
    data = np.fromfile(path, dtype="<f4").reshape(nz, ny, nx)
    img = sitk.GetImageFromArray(data)
    linear = affine_lps[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    img.SetSpacing(spacing.tolist())
    img.SetDirection((linear / spacing).flatten().tolist())
    img.SetOrigin(affine_lps[:3, 3].tolist())
    return img


def edge_mask(fixed, edge=2):
    """Fixed-image voxels at least `edge` voxels from every face: where the moved head
    leaves the field of view the moving volume has no data, and neither method should
    fit that (the realtime crate leaves the same band out, like AFNI's -edging)."""
    nx, ny, nz = fixed.GetSize()
    mask = np.zeros((nz, ny, nx), dtype=np.uint8)
    mask[edge:nz - edge, edge:ny - edge, edge:nx - edge] = 1
    img = sitk.GetImageFromArray(mask)
    img.CopyInformation(fixed)
    return img


def register(fixed, moving, centre_lps):
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricFixedMask(edge_mask(fixed))
    reg.SetMetricSamplingStrategy(reg.NONE)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-5, numberOfIterations=500, relaxationFactor=0.5
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    initial = sitk.Euler3DTransform()
    initial.SetCenter(centre_lps)
    initial.SetComputeZYX(True)
    reg.SetInitialTransform(initial, inPlace=False)
    result = reg.Execute(fixed, moving)
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(result).GetNthTransform(0))
    m = np.eye(4)
    m[:3, :3] = np.array(euler.GetMatrix()).reshape(3, 3)
    c = np.array(euler.GetCenter())
    m[:3, 3] = c - m[:3, :3] @ c + np.array(euler.GetTranslation())
    return m


def main():
    folder = Path(sys.argv[1])
    geometry = json.loads((folder / "geometry.json").read_text())
    affine_lps = FLIP @ np.array(geometry["affine_ras"])
    centre_lps = (FLIP[:3, :3] @ np.array(geometry["centre_ras"])).tolist()
    fixed = image(folder / "reference.f32", geometry["shape"], affine_lps)
    out = []
    for n in range(geometry["volumes"]):
        moving = image(folder / f"moved_{n}.f32", geometry["shape"], affine_lps)
        start = time.perf_counter()
        m_lps = register(fixed, moving, centre_lps)
        seconds = time.perf_counter() - start
        out.append({"matrix_ras": (FLIP @ m_lps @ FLIP).tolist(), "seconds": seconds})
    (folder / "sitk.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
