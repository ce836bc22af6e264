from . import test_acc_base
