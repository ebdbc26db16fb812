"""DSSC-detector class module (ToolBox ``detectors.dssc``).

The dssc detector class. It represents a namespace for frequent evaluation
while implicitly applying/requiring certain structure/naming conventions to its
objects. Plot routines are in ``dssc_plot`` (``scs_nb.detectors.dssc.plot``).
``DSSCFormatter`` combines the module files of a binned run into one file.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import xarray as xr

from ....errors import ToolBoxPathError, ToolBoxValueError
from ....load import open_run
from ....pulses import get_tim_peaks
from . import bins, raw
from .inputs import get_xgm_formatted, load_dssc_info
from .process import process_modules, process_to_file
from .reduce import dark_for_module
from .store import get_data_formatted, load_xarray, save_attributes_h5, save_xarray

__all__ = ["DSSCBinner", "DSSCFormatter"]


class DSSCBinner:
    """Bin DSSC data of one run along trainId (a scan), pulse (a pattern) and
    optionally x/y.

    Parameters
    ----------
    proposal_nr, run_nr: int
    binners: dict
        {'trainId': DataArray, 'pulse': DataArray, ...} from create_dssc_bins.
    xgm_name: str
        mnemonic of the XGM used for normalisation and the pulse mask.
    tim_names: list of str
        MCP mnemonics (TIM) averaged in load_tim.
    dssc_coords_stride: int or list
        XGM pulse j is DSSC frame j * stride (2 with intra-darks), or the list
        of frames of the XGM pulses.
    """

    def __init__(
        self,
        proposal_nr,
        run_nr,
        binners={},
        xgm_name="SCS_SA3",
        tim_names=["MCP1apd", "MCP2apd", "MCP3apd"],
        dssc_coords_stride=2,
    ):
        self.proposal = proposal_nr
        self.runnr = run_nr
        self.run_dir = raw.run_directory(proposal_nr, run_nr)
        self.info = load_dssc_info(proposal_nr, run_nr)
        try:
            self.run = open_run(proposal_nr, run_nr, include="*DA*")
        except ToolBoxPathError as exc:
            raise ToolBoxPathError(
                f"DSSCBinner needs the run's aggregator files (RAW-R{int(run_nr):04d}-DA*-S*.h5: "
                f"XGM, TIM, bunch pattern) beside the DSSC module files: {exc}"
            ) from None
        self.xgmname = xgm_name
        self.tim_names = list(tim_names)
        self.dssc_coords_stride = dssc_coords_stride
        self.binners = {}
        for name, b in dict(binners).items():
            self.add_binner(name, b)
        self.xgm = None
        self.tim = None
        self.pulsemask = None

    def __del__(self):
        pass

    def __repr__(self):
        return (
            f"<DSSCBinner p{self.proposal} r{self.runnr}: "
            f"{self.info['number_of_trains']} trains x {self.info['frames_per_train']} "
            f"frames, binners {sorted(self.binners)}>"
        )

    def add_binner(self, name, binner):
        """Add additional binner to internal dictionary

        Parameters
        ----------
        name: str
            name of binner to be created
        binner: xarray.DataArray
            An array that represents a map how the respective coordinate should
            be binned.

        Raises
        ------
        ToolBoxValueError: Exception
            Raises exception in case the name does not correspond to a valid
            binner name. To be generalized.
        """
        bins.check_binner(name, binner)
        if name == "pulse":
            bins.pulse_bin_index(binner, self.info["frames_per_train"])
        if name == "trainId":
            bins.train_bin_index(binner, np.asarray(self.info["trainIds"]))
        self.binners[name] = binner

    def load_xgm(self):
        """load xgm data and construct coordinate array according to
        corresponding dssc frame number."""
        self.xgm = get_xgm_formatted(self.run, self.xgmname, self.dssc_coords_stride)

    def load_tim(self):
        """load tim data and construct coordinate array according to
        corresponding dssc frame number (mean of the ``tim_names`` MCPs, their
        peaks aligned on the SASE3 pulses by ``get_tim_peaks``)."""
        try:
            ds = get_tim_peaks(self.run, self.tim_names)
        except Exception as exc:
            raise ToolBoxValueError(
                f"cannot load TIM {self.tim_names} for run {self.runnr}: {exc}"
            ) from None
        arrays = []
        for var in ds.data_vars:
            a = ds[var]
            pdim = [d for d in a.dims if d != "trainId"][0]
            arrays.append(a.rename({pdim: "pulse"}).assign_coords(pulse=np.arange(a.sizes[pdim])))
        tim = xr.concat(arrays, dim="mcp", join="inner").mean("mcp")
        n = tim.sizes["pulse"]
        stride = self.dssc_coords_stride
        frames = (
            np.arange(n) * stride
            if isinstance(stride, (int, np.integer))
            else np.asarray(stride)[:n]
        )
        self.tim = tim.assign_coords(pulse=frames).rename("tim")

    def create_pulsemask(self, use_data="xgm", threshold=(0, np.inf)):
        """creates a mask for dssc frames according to measured xgm intensity.
        Once such a mask has been constructed, it will be used in the data
        reduction process to drop out-of-bounds pulses."""
        if use_data not in ("xgm", "tim"):
            raise ToolBoxValueError(f"use_data must be 'xgm' or 'tim', got {use_data!r}")
        if use_data == "xgm":
            if self.xgm is None:
                self.load_xgm()
            data = self.xgm
        else:
            if self.tim is None:
                self.load_tim()
            data = self.tim
        lo, hi = threshold
        self.pulsemask = ((data > lo) & (data < hi)).rename("pulsemask")
        return self.pulsemask

    def get_info(self):
        """Returns the expected shape of the binned dataset, in case binners have
        been defined."""
        shape = {
            "trainId": 1,
            "pulse": self.info["frames_per_train"],
            "x": raw.MODULE_SHAPE[0],
            "y": raw.MODULE_SHAPE[1],
        }
        for name, b in self.binners.items():
            shape[name] = len(bins.bin_labels(b.values))
        return shape

    def _bin_metadata(self, data):
        """Bin a (trainId, pulse) array like the DSSC frames: mean per bin."""
        tids = np.asarray(self.info["trainIds"], np.uint64)
        fpt = self.info["frames_per_train"]
        vals = bins.per_frame(data, tids, fpt)
        if "trainId" in self.binners:
            tb, tl = bins.train_bin_index(self.binners["trainId"], tids)
        else:
            tb, tl = np.zeros(len(tids), np.int64), np.array([0])
        if "pulse" in self.binners:
            pb, pl = bins.pulse_bin_index(self.binners["pulse"], fpt)
        else:
            pb, pl = np.arange(fpt), np.arange(fpt)
        fb = np.where(
            (tb[:, None] >= 0) & (pb[None, :] >= 0), tb[:, None] * len(pl) + pb[None, :], -1
        )
        if self.pulsemask is not None:
            keep = bins.per_frame(self.pulsemask.astype(float), tids, fpt, fill=1.0) > 0.5
            fb = np.where(keep, fb, -1)
        ok = (fb >= 0) & np.isfinite(vals)
        s = np.bincount(fb[ok], vals[ok], minlength=len(tl) * len(pl))
        c = np.bincount(fb[ok], minlength=len(tl) * len(pl))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (s / c).reshape(len(tl), len(pl))
        return xr.DataArray(mean, dims=("trainId", "pulse"), coords={"trainId": tl, "pulse": pl})

    def get_xgm_binned(self):
        """Bin the xgm data according to the binners of the dssc data. The result
        can eventually be merged into the final dataset by the DSSCFormatter.

        Returns
        -------
        xgm_data: xarray.DataSet
            xarray dataset containing the binned xgm data
        """
        if self.xgm is None:
            self.load_xgm()
        return xr.Dataset({"xgm": self._bin_metadata(self.xgm)})

    def get_tim_binned(self):
        """Bin the tim data according to the binners of the dssc data. The result
        can eventually be merged into the final dataset by the DSSCFormatter.

        Returns
        -------
        tim_data: xarray.DataSet
            xarray dataset containing the binned tim data
        """
        if self.tim is None:
            self.load_tim()
        return xr.Dataset({"tim": self._bin_metadata(self.tim)})

    def process_data(
        self,
        modules=[],
        filepath="./",
        chunksize=512,
        backend="loky",
        n_jobs=None,
        dark_image=None,
        xgm_normalization=False,
        normevery=1,
        overwrite=False,
        cluster=None,
        client=None,
    ):
        """Load and bin dssc data according to self.bins. No data is returned by
        this method. The condensed data is written to file by the worker
        processes directly (``run_<run>_module<m>.h5`` in filepath).

        Parameters
        ----------
        modules: list of ints
            a list containing the module numbers that should be processed. If
            empty, all modules are processed.
        filepath: str
            the path where the files containing the reduced data should be
            stored.
        chunksize: int
            The number of trains that should be read in one iterative step.
        backend: str
            'loky' (default), 'multiprocessing' and 'dask' run one dask task per
            module (a local cluster, or ``cluster``/``client``); 'threading'
            uses threads; 'sequential' runs in this process.
        n_jobs: int
            number of workers.
        dark_image: xarray.DataArray
            DataArray with dimensions compatible with the loaded dssc data. If
            given, it will be subtracted from the dssc data before the binning.
            The dark image needs to be of dimension module, trainId, pulse, x
            and y.
        xgm_normalization: boolean
            if true, the dssc data is normalized by the xgm data before the
            binning.
        normevery: int
            integer indicating which out of normevery frame will be normalized.
        overwrite: bool
            replace complete module files; otherwise they are kept and skipped.
        """
        modules = list(modules) or self.info["modules"]
        missing = [m for m in modules if not raw.module_files(self.run_dir, m)]
        if missing:
            raise ToolBoxPathError(
                f"DSSC modules {missing} have no files in {self.run_dir}; modules present: "
                f"{self.info['modules']}"
            )
        if xgm_normalization and self.xgm is None:
            self.load_xgm()
        os.makedirs(filepath, exist_ok=True)
        info = {k: v for k, v in self.info.items() if k != "trainIds"}

        def kwargs_of(m):
            dark = dark_image
            if isinstance(dark, (xr.DataArray, xr.Dataset)) and "module" in dark.dims:
                dark = dark_for_module(dark, m, self.info["frames_per_train"])
            return dict(
                proposal=self.proposal,
                run_nr=self.runnr,
                module=m,
                chunksize=chunksize,
                info=info,
                dssc_binners=self.binners,
                path=filepath,
                pulsemask=self.pulsemask,
                dark_image=dark,
                xgm_mnemonic=self.xgmname,
                xgm_normalization=xgm_normalization,
                normevery=normevery,
                xgm=self.xgm,
                overwrite=overwrite,
            )

        return process_modules(
            process_to_file,
            modules,
            kwargs_of,
            backend=backend,
            n_jobs=n_jobs,
            cluster=cluster,
            client=client,
        )


class DSSCFormatter:
    """Combine the per-module files of a binned run into one file."""

    def __init__(self, filepath):
        if not os.path.isdir(filepath):
            raise ToolBoxPathError(f"{filepath} is not a folder of binned module files")
        self._filenames = sorted(glob.glob(os.path.join(filepath, "*.h5")))
        self.data = None
        self.data_array = {}
        self.attributes = {}

    def combine_files(self, filenames=[]):
        """Read the files given in filenames, and store the data in the class
        variable 'data'. If no filenames are given, it tries to read the files
        stored in the class-internal variable '_filenames'.

        Parameters
        ----------
        filenames: list
            list of strings containing the names of the files to be combined.
        """
        files = list(filenames) or self._filenames
        if not files:
            raise ToolBoxPathError("no module files to combine")
        self._filenames = files
        self.data = get_data_formatted(files)

    def add_dataArray(self, groups=[]):
        """Reads addional xarray-data from the first file given in the list of
        filenames. This assumes that all the files in the folder contain the
        same additional data. To be generalized.

        Parameters
        ----------
        groups: list
            list of strings with the names of the groups in the h5 file,
            containing addional xarray data.
        """
        for group in groups:
            self.data_array[group] = load_xarray(self._filenames[0], group=group, form="dataset")

    def add_attributes(self, attributes={}):
        """Add additional information, such as run-type, as attributes to the
        formatted .h5 file.

        Parameters
        ----------
        attributes: dictionary
            a dictionary, containing information or data of any kind, that
            will be added to the formatted .h5 file as attributes.
        """
        self.attributes.update(attributes)

    def save_formatted_data(self, filename):
        """Create a .h5 file containing the main dataset in the group called
        'data'. Additional groups will be created for the content of the
        variable 'data_array'. Metadata about the file is added in the form of
        attributes.

        Parameters
        ----------
        filename: str
            the name of the file to be created
        """
        if self.data is None:
            self.combine_files()
        data = self.data.copy()
        data.attrs = {k: v for k, v in data.attrs.items() if k != "module"}
        save_xarray(filename, data, group="data", mode="w")
        for group, ds in self.data_array.items():
            save_xarray(filename, ds, group=group, mode="a")
        save_attributes_h5(filename, self.attributes)
