"""Generated fakes of the image branch: StyleGAN2-ADA images from seeds, resumable.

- :mod:`unrender.generate.seeds`: seed specs (``"5000-10000"``, ``"0-9,42"``), job blocks and
  the ``seed%04d.png`` file names.
- :mod:`unrender.generate.network`: loading NVIDIA's official network pickle (its code lives
  only in the ``containers/stylegan2-ada`` image) and the errors that say what is missing.
- :mod:`unrender.generate.stylegan`: the generation loop, for any generator with ``z_dim``,
  ``c_dim``, ``img_resolution`` and ``__call__(z, c, truncation_psi=, noise_mode=)``.
"""
