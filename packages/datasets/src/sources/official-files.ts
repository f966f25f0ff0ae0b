import type { RemoteFile } from './download.js';

/**
 * Official download locations and checksums. SHA-256 where a published/verified value is known;
 * MD5 where the publisher (and torchvision) only list MD5. Sizes are approximate.
 */
export const OFFICIAL_FILES = {
  mnist: [
    // Google's CVDF mirror of LeCun's files (yann.lecun.com throttles/blocks scripted downloads). SHA-256 as in TFDS.
    { file: 'train-images-idx3-ubyte.gz', url: 'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz', sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', bytes: 9912422 },
    { file: 'train-labels-idx1-ubyte.gz', url: 'https://storage.googleapis.com/cvdf-datasets/mnist/train-labels-idx1-ubyte.gz', sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', bytes: 28881 },
    { file: 't10k-images-idx3-ubyte.gz', url: 'https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz', sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', bytes: 1648877 },
    { file: 't10k-labels-idx1-ubyte.gz', url: 'https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz', sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', bytes: 4542 },
  ],
  fashionMnist: [
    // Zalando's S3 bucket; MD5 from the Fashion-MNIST README.
    { file: 'train-images-idx3-ubyte.gz', url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', bytes: 26421880 },
    { file: 'train-labels-idx1-ubyte.gz', url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe', bytes: 29515 },
    { file: 't10k-images-idx3-ubyte.gz', url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79', bytes: 4422102 },
    { file: 't10k-labels-idx1-ubyte.gz', url: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310', bytes: 5148 },
  ],
  cifar10: [
    // MD5 published on the CIFAR page; SHA-256 as recorded by an independent verification of the same 170 052 171-byte file.
    { file: 'cifar-10-binary.tar.gz', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd', md5: 'c32a1d4ab5d03f1284b67883e8d87530', bytes: 170052171 },
  ],
  cifar100: [
    { file: 'cifar-100-binary.tar.gz', url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8', bytes: 168513733 },
  ],
  svhn: [
    { file: 'train_32x32.mat', url: 'http://ufldl.stanford.edu/housenumbers/train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373', bytes: 182040794 },
    { file: 'test_32x32.mat', url: 'http://ufldl.stanford.edu/housenumbers/test_32x32.mat', md5: 'eb5a983be6a315427106f1b164d9cef3', bytes: 64275384 },
  ],
  gtsrb: [
    { file: 'GTSRB_Final_Training_Images.zip', url: 'https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/GTSRB_Final_Training_Images.zip', md5: 'f33fd80ac59bff73c82d25ab499e03a3', bytes: 276294756 },
    { file: 'GTSRB_Final_Test_Images.zip', url: 'https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/GTSRB_Final_Test_Images.zip', md5: 'c7e4e6327067d32654124b0fe9e82185', bytes: 88978620 },
    { file: 'GTSRB_Final_Test_GT.zip', url: 'https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/GTSRB_Final_Test_GT.zip', md5: 'fe31e9c9270bbcd7b84b7f21a9d9d9e5', bytes: 99620 },
  ],
  imagenetR: [
    // 2.1 GB tar; extract it (tar xf) into <cache>/imagenet-r/: Node cannot read a >2 GiB file into one buffer.
    { file: 'imagenet-r.tar', url: 'https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar', md5: 'a61312130a589d0ca1a8fca1f2bd3337', bytes: 2170000000 },
  ],
} as const satisfies Record<string, readonly RemoteFile[]>;

/** Looks up one file of a dataset's table. */
export function officialFile(dataset: keyof typeof OFFICIAL_FILES, file: string): RemoteFile {
  const hit = (OFFICIAL_FILES[dataset] as readonly RemoteFile[]).find((f) => f.file === file);
  if (!hit) throw new Error(`internal: no official file '${file}' for ${dataset}`);
  return hit;
}
