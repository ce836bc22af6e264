from . import test_acc_sale
