from . import test_acc_legacy
