"""SCS facts in one place: device sources, detector constants and default
geometry, physical constants, proposal/run paths and their validators, and the
data root.

The library, the widgets, the kernels and the simulator import these; this
package imports none of them (only ``scs_nb.errors``).
"""
from .constants import (ADQ412_SAMPLES_PER_SLOT, C_MM_PER_PS, DSSC_ADC_MAX,  # noqa: F401
                        DSSC_MODULE_SHAPE, DSSC_NMODULES, DSSC_PIXEL_SIZE_M, DSSC_QUAD_POS,
                        FASTADC_SAMPLES_PER_SLOT, FASTCCD_PIXEL_SIZE_M, FASTCCD_SHAPE,
                        HC_EV_NM, MARANAX_EV_PER_ADU, MARANAX_OFFSET_ADU, MARANAX_SHAPE,
                        NEWTON_E_PER_COUNT, NEWTON_OFFSET_ADU, NEWTON_PREAMP_GAIN,
                        NEWTON_SHAPE, PES_BINDING_EV, PES_BOARDS, PES_LETTERS, SLOT_RATE_HZ,
                        SLOTS_PER_TRAIN,
                        TRAIN_RATE_HZ, UND_NCELLS, UND_PARK_GAP_MM, UND_PERIOD_M,
                        dssc_geometry)
from .paths import (DEFAULT_CYCLE, FACILITY_DATA_ROOT, cache_dir, data_root,  # noqa: F401
                    find_proposal,
                    proposal_folder, run_ranges, validate_identifier, validate_proposal,
                    validate_run)
from . import sources  # noqa: F401
