"""Named submit profiles: ``scs-nb submit NAME`` with options of their own, the
ToolBox's SLURM job scripts (``bin_dssc_module_job.sh``, ``boz_parameters_job.sh``).

Each profile module has ``build_parser(prog)`` whose ``func`` builds the template's
parameters and submits it through ``scs_nb.batch.slurm``; :data:`PROFILES` maps the
names to the modules (read by ``scs_nb.cli``). What the profiles share (the SLURM
options of ``scs_nb.parallel.slurm_options``, the output folder, printing or
submitting) is in :mod:`.common`.
"""

#: ``scs-nb submit NAME`` -> the module of that profile
PROFILES = {
    "dssc-binning": "scs_nb.batch.profiles.dssc_binning",  # bin_dssc_module_job.sh
    "boz-correction": "scs_nb.batch.profiles.boz_correction",  # boz_parameters_job.sh
}
