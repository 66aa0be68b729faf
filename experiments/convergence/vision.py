"""The torchvision datasets a bigger machine can train on (optional extra ``vision``), by name: the
torchvision class and the files it expects under ``<data.root>``. Light to import (no torch, no
scikit-learn): the workflow reads it to know which datasets need a download."""

# name -> (torchvision class, files torchvision expects under <data.root>/<folder>)
VISION = {
    "mnist": ("MNIST", "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}"),
}
